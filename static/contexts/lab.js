// The contexts lab: concurrent fetches at echo and threadlocal, background jobs, and sockets; verify every answer.
// Vendored, no dependencies. The page sets data-state="done" on #contexts-lab when a run ends.
(function () {
  "use strict";
  const lab = document.getElementById("contexts-lab");
  if (!lab) return;
  const form = document.getElementById("lab-form");
  const status = document.getElementById("lab-status");
  const runButton = document.getElementById("lab-run");

  function token() {
    const bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function base() {
    if (document.getElementById("lab-target").value !== "twin") return "";
    return location.protocol + "//" + location.hostname + ":" + lab.dataset.twinPort;
  }

  // An answer is verified when every context-local it read back still holds the token sent.
  const checks = {
    echo: (sent, body) => body.g === sent && body.contextvar === sent && body.request_arg === sent,
    threadlocal: (sent, body) => body.threadlocal === sent,
  };

  async function one(name, url, maxDelay, tally) {
    const sent = token();
    const delay = Math.floor(Math.random() * (maxDelay + 1));
    try {
      const response = await fetch(url + "?token=" + sent + "&delay_ms=" + delay,
        { cache: "no-store", headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const body = await response.json();
      if (body.token !== sent) throw new Error("answer for another request");
      if (checks[name](sent, body)) tally.verified += 1; else tally.leaked += 1;
      tally.threads.add(String(body.pid ?? "") + ":" + String(body.thread_id));
      if (body.task_id !== undefined) tally.tasks.add(String(body.pid ?? "") + ":" + body.task_id);
    } catch (error) {
      tally.failed += 1;
      tally.lastError = String(error);
    }
  }

  async function batch(name, count, maxDelay, prefix) {
    const tally = { sent: count, verified: 0, leaked: 0, failed: 0, threads: new Set(), tasks: new Set() };
    const url = prefix + lab.dataset[name];
    const started = performance.now();
    await Promise.all(Array.from({ length: count }, () => one(name, url, maxDelay, tally)));
    tally.ms = Math.round(performance.now() - started);
    return tally;
  }

  function show(name, tally) {
    const row = document.getElementById("lab-row-" + name);
    const cells = {
      sent: tally.sent, verified: tally.verified, leaked: tally.leaked, failed: tally.failed,
      threads: tally.threads.size, tasks: tally.tasks.size || "–", ms: tally.ms,
    };
    for (const [field, value] of Object.entries(cells)) {
      const cell = row.querySelector('[data-field="' + field + '"]');
      cell.textContent = String(value);
      cell.className = "";
    }
    row.querySelector('[data-field="verified"]').className = tally.verified === tally.sent ? "lab-good" : "";
    row.querySelector('[data-field="leaked"]').className = leakClass(tally);
    row.querySelector('[data-field="failed"]').className = tally.failed > 0 ? "lab-bad" : "";
  }

  // "0 leaked" is good news only when answers came back to be checked: none came, no verdict.
  function leakClass(tally) {
    if (tally.leaked > 0) return "lab-bad";
    return tally.verified > 0 ? "lab-good" : "";
  }

  // The twin is another server (make twin): ask it first, and say how to start it if it is not up.
  async function twinAnswers(prefix) {
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), 3000);
    try {
      const response = await fetch(prefix + lab.dataset.echo + "?token=probe&delay_ms=0",
        { cache: "no-store", headers: { Accept: "application/json" }, signal: stop.signal });
      return response.ok;
    } catch (error) {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const count = Math.max(1, Math.min(1000, Number(document.getElementById("lab-count").value) || 1));
    const maxDelay = Math.max(0, Math.min(10000, Number(document.getElementById("lab-delay").value) || 0));
    const prefix = base();
    runButton.disabled = true;
    lab.dataset.state = "running";
    if (prefix && !(await twinAnswers(prefix))) {
      status.textContent = "The WSGI twin does not answer at " + prefix + ". Start it in another " +
        "terminal with: make twin (then run again).";
      status.className = "lab-status lab-bad";
      runButton.disabled = false;
      lab.dataset.state = "done";
      return;
    }
    status.className = "lab-status";
    status.textContent = "Sending " + count + " requests to each endpoint" + (prefix ? " at " + prefix : "") + "…";
    // Both batches at once: the threadlocal requests interleave with the echo ones on the server.
    const [echo, threadlocal] = await Promise.all([
      batch("echo", count, maxDelay, prefix),
      batch("threadlocal", count, maxDelay, prefix),
    ]);
    show("echo", echo);
    show("threadlocal", threadlocal);
    const failed = echo.failed + threadlocal.failed;
    if (failed === 2 * count) {
      status.textContent = "Every request failed (" + (echo.lastError || threadlocal.lastError) +
        "): nothing was checked, so nothing can be said about leaks.";
      status.className = "lab-status lab-bad";
    } else {
      status.textContent = "Done: echo " + echo.verified + "/" + count + " verified, threadlocal " +
        threadlocal.leaked + "/" + count + " leaked" +
        (failed ? "; " + failed + " failed (" + (echo.lastError || threadlocal.lastError) + ")" : "") + ".";
    }
    runButton.disabled = false;
    lab.dataset.state = "done";
  });

  const backgroundButton = document.getElementById("lab-background");
  const backgroundTable = document.getElementById("lab-background-results");

  // Each cell carries its column's name (data-label): on a phone the rows read as cards.
  const backgroundHeads = [...backgroundTable.querySelectorAll("thead th")].map((th) => th.textContent);

  function cell(row, value) {
    const td = document.createElement("td");
    td.textContent = value === null || value === undefined ? "—" : String(value);
    td.dataset.label = backgroundHeads[row.children.length] || "";
    row.appendChild(td);
  }

  backgroundButton.addEventListener("click", async () => {
    backgroundButton.disabled = true;
    lab.dataset.backgroundState = "running";
    try {
      const sent = token();
      const started = await fetch(lab.dataset.background + "?token=" + sent,
        { method: "POST", headers: { Accept: "application/json", "X-CSRFToken": lab.dataset.csrf } });
      if (!started.ok) throw new Error("HTTP " + started.status);
      const { id } = await started.json();
      let run = null;
      for (let attempt = 0; attempt < 50; attempt += 1) {
        const answer = await fetch(lab.dataset.background + "/" + id, { headers: { Accept: "application/json" } });
        run = await answer.json();
        if (run.complete) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const body = backgroundTable.tBodies[0];
      body.replaceChildren();
      const rows = [["the view itself", run.request], ...Object.entries(run.jobs)];
      for (const [name, seen] of rows) {
        const row = document.createElement("tr");
        row.dataset.job = name;
        const th = document.createElement("th");
        th.textContent = name;
        row.appendChild(th);
        if (!seen) { cell(row, "not finished"); body.appendChild(row); continue; }
        cell(row, seen.g);
        cell(row, seen.g_is_the_requests ? "yes" : "no");
        cell(row, seen.request);
        cell(row, seen.session);
        cell(row, seen.request_context);
        body.appendChild(row);
      }
      backgroundTable.hidden = false;
    } catch (error) {
      status.textContent = "Background run failed: " + error;
    } finally {
      backgroundButton.disabled = false;
      lab.dataset.backgroundState = "done";
    }
  });

  // Sockets: each one a task on the server, with its own g for the connection's whole life.
  const socketForm = document.getElementById("lab-socket-form");
  const socketStatus = document.getElementById("lab-socket-status");
  const socketJobs = document.getElementById("lab-socket-jobs");
  const socketJobHeads = [...socketJobs.querySelectorAll("thead th")].map((th) => th.textContent);

  // Opens one socket; resolves with { ws, next } once it is open. next() is its next message.
  function connect(sent) {
    return new Promise((resolve, reject) => {
      // url_for gives a websocket route as an absolute ws:// address: keep its path, this page's host.
      const path = new URL(lab.dataset.socket, location.href).pathname;
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const ws = new WebSocket(scheme + "//" + location.host + path + "?token=" + sent);
      const inbox = [];
      const waiting = [];
      let closed = null;
      ws.addEventListener("message", (event) => {
        const message = JSON.parse(event.data);
        if (waiting.length) waiting.shift().resolve(message); else inbox.push(message);
      });
      ws.addEventListener("close", (event) => {
        closed = new Error("closed " + event.code + (event.reason ? " (" + event.reason + ")" : ""));
        while (waiting.length) waiting.shift().reject(closed);
        reject(closed);
      });
      const next = () => {
        if (inbox.length) return Promise.resolve(inbox.shift());
        if (closed) return Promise.reject(closed);
        return new Promise((ok, fail) => waiting.push({ resolve: ok, reject: fail }));
      };
      ws.addEventListener("open", () => resolve({ ws, next }));
    });
  }

  async function converse(sent, tally) {
    const socket = await connect(sent);
    try {
      const hello = await socket.next();
      tally.tasks.add(hello.pid + ":" + hello.task_id);
      for (let round = 1; round <= 3; round += 1) {
        const say = sent + ":" + round;
        socket.ws.send(JSON.stringify({ say, delay_ms: Math.floor(Math.random() * 101) }));
        const reply = await socket.next();
        tally.messages += 1;
        tally.threads.add(reply.pid + ":" + reply.thread_id);
        tally.open = Math.max(tally.open, reply.open);
        const own = reply.g === sent && reply.contextvar === sent && reply.websocket_arg === sent;
        if (own && reply.say === say && reply.task_id === hello.task_id) tally.verified += 1;
        else tally.leaked += 1;
      }
      return socket;
    } catch (error) {
      socket.ws.close();
      throw error;
    }
  }

  function showSocketJobs(report) {
    const body = socketJobs.tBodies[0];
    body.replaceChildren();
    for (const [name, seen] of [["the handler itself", report.handler], ...Object.entries(report.jobs)]) {
      const row = document.createElement("tr");
      row.dataset.job = name;
      const th = document.createElement("th");
      th.textContent = name;
      row.appendChild(th);
      const values = seen ? [seen.g, seen.g_is_the_sockets ? "yes" : "no", seen.websocket, seen.contextvar,
        seen.websocket_context] : ["not finished"];
      for (const value of values) {
        const td = document.createElement("td");
        td.textContent = value === null || value === undefined ? "—" : String(value);
        td.dataset.label = socketJobHeads[row.children.length] || "";
        row.appendChild(td);
      }
      body.appendChild(row);
    }
    socketJobs.hidden = false;
  }

  socketForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const count = Math.max(1, Math.min(200, Number(document.getElementById("lab-socket-count").value) || 1));
    const button = document.getElementById("lab-socket-run");
    button.disabled = true;
    lab.dataset.socketState = "running";
    socketStatus.textContent = "Opening " + count + " sockets…";
    const tally = { messages: 0, verified: 0, leaked: 0, failed: 0, open: 0, threads: new Set(), tasks: new Set() };
    const started = performance.now();
    const outcomes = await Promise.allSettled(Array.from({ length: count }, () => converse(token(), tally)));
    const ms = Math.round(performance.now() - started);
    const open = outcomes.filter((outcome) => outcome.status === "fulfilled").map((outcome) => outcome.value);
    const failures = outcomes.filter((outcome) => outcome.status === "rejected");
    tally.failed = failures.length;
    try {
      if (open.length) {
        open[0].ws.send(JSON.stringify({ spawn: true }));
        showSocketJobs(await open[0].next());
      }
    } catch (error) {
      tally.failed += 1;
      failures.push({ reason: error });
    }
    for (const socket of open) socket.ws.close(1000, "done");
    const cells = { sockets: count, messages: tally.messages, verified: tally.verified, leaked: tally.leaked,
      failed: tally.failed, threads: tally.threads.size, tasks: tally.tasks.size, open: tally.open, ms };
    const row = document.getElementById("lab-socket-row");
    for (const [field, value] of Object.entries(cells)) {
      row.querySelector('[data-field="' + field + '"]').textContent = String(value);
    }
    row.querySelector('[data-field="verified"]').className = tally.verified === count * 3 ? "lab-good" : "";
    row.querySelector('[data-field="leaked"]').className = leakClass(tally);
    socketStatus.textContent = "Done: " + tally.verified + "/" + tally.messages + " answers carried their own " +
      "socket's token" + (failures.length ? "; " + failures.length + " failed (" + failures[0].reason + ")" : "") + ".";
    button.disabled = false;
    lab.dataset.socketState = "done";
  });
})();
