// Live updates on the pages that ask for them (data-live: the socket's address; data-live-after:
// the last event the page was rendered with). The pages work fully without it; with it:
// - an article page shows new comments (on its last page of comments), drops deleted ones and
//   keeps the favorite count current;
// - the first page of a feed says "N new articles — show them" (a link that reloads it).
// The socket reconnects after a drop with the last event it had, so nothing is missed; when the
// server says the page is too far behind ("reload"), the page says so. Heartbeats are answered.
"use strict";

(() => {
  const root = document.querySelector("[data-live]");
  if (!root || !("WebSocket" in window)) return;
  const address = new URL(root.dataset.live, window.location.href);
  address.protocol = address.protocol === "https:" ? "wss:" : "ws:";
  let last = root.dataset.liveAfter;
  let retry = 1000;
  let fresh = 0;
  const shown = new Set([...document.querySelectorAll(".article-preview a.preview-link")]
    .map((a) => a.getAttribute("href")));

  function safeImage(url) {
    try {
      const parsed = new URL(url);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch {
      return null;
    }
  }

  function addComment(comment) {
    const list = document.querySelector("#comments .comment-list[data-live-last]");
    const template = document.getElementById("live-comment");
    if (!list || !template || document.getElementById(`comment-${comment.id}`)) return;
    const card = template.content.firstElementChild.cloneNode(true);
    card.id = `comment-${comment.id}`;
    const text = card.querySelector(".card-text");
    for (const paragraph of comment.body.split(/\n\s*\n/)) {  // plain text until the next reload
      const p = document.createElement("p");
      p.textContent = paragraph;
      text.append(p);
    }
    const profile = `/profile/${encodeURIComponent(comment.author.username)}`;
    card.querySelectorAll("a.comment-author").forEach((a) => { a.href = profile; });
    card.querySelector(".comment-author-name").textContent = comment.author.username;
    const image = safeImage(comment.author.image);
    if (image) card.querySelector("img").src = image;
    else card.querySelector("img").src = "/static/img/avatar.svg";
    const time = card.querySelector("time");
    time.dateTime = comment.createdAt;
    time.title = new Date(comment.createdAt).toUTCString();
    list.append(card);
  }

  function setFavorites(count) {
    document.querySelectorAll(".article-page .fav-button .counter").forEach((span) => {
      span.textContent = `(${count})`;
    });
  }

  function newArticle(article) {
    const link = document.querySelector(".new-articles a");
    if (!link || shown.has(`/article/${article.slug}`)) return;
    shown.add(`/article/${article.slug}`);
    fresh += 1;
    link.textContent = fresh === 1 ? "1 new article — show it" : `${fresh} new articles — show them`;
    link.hidden = false;
  }

  function outOfDate() {
    const link = document.querySelector(".new-articles a") || document.createElement("a");
    link.href = window.location.href;
    link.textContent = "This page is out of date — reload it";
    link.hidden = false;
    if (!link.isConnected) {
      const note = document.createElement("p");
      note.className = "new-articles";
      note.setAttribute("role", "status");
      note.append(link);
      root.prepend(note);
    }
  }

  function handle(event) {
    switch (event.type) {
      case "ping": return "pong";
      case "reload": outOfDate(); break;
      case "comment.created": addComment(event.comment); break;
      case "comment.deleted": document.getElementById(`comment-${event.comment.id}`)?.remove(); break;
      case "article.favorited":
      case "article.unfavorited": setFavorites(event.article.favoritesCount); break;
      case "article.created": newArticle(event.article); break;
      default: break;
    }
    return null;
  }

  function connect() {
    if (last !== undefined && last !== null && last !== "") address.searchParams.set("after", last);
    const socket = new WebSocket(address);
    socket.addEventListener("message", (message) => {
      const event = JSON.parse(message.data);
      if (typeof event.seq === "number") last = String(event.seq);
      if (handle(event) === "pong") socket.send('{"type":"pong"}');
      retry = 1000;
    });
    socket.addEventListener("close", (closed) => {
      if (closed.code === 1000) return;
      // 1001 (restart), 4008 (too slow), a lost network: come back, not all at the same moment.
      setTimeout(connect, retry * (0.5 + Math.random()));
      retry = Math.min(retry * 2, 30000);
    });
  }
  connect();
})();
