// The site's one script, and every page works without it: it only makes three things smoother.
// - The navigation folds into a menu button on phones.
// - A form with data-confirm asks in a <dialog> first (without JavaScript the server asks on a
//   page of its own); confirming adds confirm=yes, as that page's button does.
// - A form with data-inplace is sent with fetch: the answer (the page the server redirects to,
//   rendered as usual) gives the new versions of the elements whose ids data-inplace names, and
//   only those are swapped in. No reload: the scroll position stays, focus goes back to the
//   matching button, and a visible note (also read out by screen readers) says what happened.
// The CSRF token travels in the form's own fields, as in a plain submit.
"use strict";

(() => {
  const note = document.createElement("div");
  note.className = "toast";
  note.setAttribute("role", "status");
  note.hidden = true;
  document.body.append(note);
  let hideNote = 0;

  function say(text, problem = false) {
    note.textContent = text;
    note.classList.toggle("toast-problem", problem);
    note.hidden = false;
    clearTimeout(hideNote);
    hideNote = setTimeout(() => { note.hidden = true; }, 4000);
  }

  // The menu on phones.
  const toggle = document.querySelector(".nav-toggle");
  const nav = document.getElementById("main-nav");
  if (toggle && nav) {
    toggle.hidden = false;
    document.documentElement.classList.add("js-nav");
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      nav.classList.toggle("open", open);
    });
  }

  // Confirmation in a <dialog>.
  let dialog = null;
  function ask(question) {
    if (!dialog) {
      dialog = document.createElement("dialog");
      dialog.className = "confirm-dialog";
      dialog.innerHTML = '<form method="dialog"><p class="confirm-question"></p><div class="confirm-actions">' +
        '<button class="btn btn-outline-secondary" value="cancel">Cancel</button>' +
        '<button class="btn btn-danger" value="yes">Delete</button></div></form>';
      document.body.append(dialog);
    }
    dialog.querySelector(".confirm-question").textContent = question;
    dialog.returnValue = "";
    dialog.showModal();  // Cancel, the first button, has focus: Enter does no harm
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), {once: true});
    });
  }

  // Focus goes where it was: the same kind of button in the same part of the page (the article
  // page has its actions twice), else the emptied comment box, else the section's heading.
  function focusAfterSwap(form, home, swapped) {
    const button = form.querySelector("button[type=submit], button:not([type])");
    const kind = button ? [...button.classList].find((c) => c.endsWith("-button")) : null;
    const textarea = form.querySelector("textarea");
    let target = null;
    const mine = swapped.find((el) => el.id === home);
    if (kind && mine) target = mine.querySelector("." + kind);
    if (!target && kind) target = swapped.map((el) => el.querySelector("." + kind)).find(Boolean);
    if (!target && textarea) target = document.getElementById(textarea.id);
    if (!target) target = swapped.map((el) => el.querySelector("h2, h1")).find(Boolean);
    if (target) target.focus({preventScroll: true});
  }

  async function sendInPlace(form, submitter) {
    const ids = form.dataset.inplace.split(/\s+/).filter(Boolean);
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    let answer;
    try {
      answer = await fetch(form.action, {method: "POST", body: new FormData(form, submitter),
                                          credentials: "same-origin"});
    } catch {
      buttons.forEach((b) => { b.disabled = false; });
      say("Not sent: the site could not be reached. Try again.", true);
      return;
    }
    const page = new DOMParser().parseFromString(await answer.text(), "text/html");
    if (!answer.ok) {
      buttons.forEach((b) => { b.disabled = false; });
      const detail = page.querySelector(".error-detail, .banner p");
      say(detail ? detail.textContent.trim() : `Not done (${answer.status}).`, true);
      return;
    }
    if (answer.redirected && new URL(answer.url).pathname === "/login") {
      window.location.assign(answer.url);  // signed out meanwhile: sign in, then come back
      return;
    }
    const home = ids.find((id) => document.getElementById(id)?.contains(form));
    const swapped = [];
    for (const id of ids) {
      const now = document.getElementById(id);
      const next = page.getElementById(id);
      if (now && next) {
        const copy = document.importNode(next, true);
        now.replaceWith(copy);
        swapped.push(copy);
      }
    }
    const problems = page.querySelector(`#${CSS.escape(ids[0])} .error-messages, #${CSS.escape(ids[0])} .field-errors`);
    const flash = page.querySelector(".flash");
    if (problems) say(problems.textContent.trim(), true);
    else say(flash ? flash.textContent.trim() : form.dataset.done || "Done.");
    focusAfterSwap(form, home, swapped);
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.dataset.confirm && !form.querySelector("input[name=confirm]")) {
      event.preventDefault();
      if (await ask(form.dataset.confirm)) {
        const yes = document.createElement("input");
        Object.assign(yes, {type: "hidden", name: "confirm", value: "yes"});
        form.append(yes);
        form.requestSubmit();
      }
      return;
    }
    if (form.dataset.inplace) {
      event.preventDefault();
      await sendInPlace(form, event.submitter);
    }
  });
})();
