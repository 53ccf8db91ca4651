// The page's connection to the daemon (window.LA.net): the HTTP API with the token, and the
// WebSocket feed, reconnecting on its own. The token is asked once and kept in sessionStorage
// (this tab only).
"use strict";

(function () {
  const LA = (window.LA = window.LA || {});
  const TOKEN_KEY = "la_api_token";
  const $ = (id) => document.getElementById(id);
  let ws = null;
  let retryMs = 500;

  // One dialog at a time: the HTTP calls and the socket may all need the token at once.
  let pendingToken = null;
  function askToken() {
    if (!pendingToken) {
      pendingToken = showTokenDialog().then((token) => {
        sendAuth(token);  // an open socket may be waiting for it (reads need the token)
        return token;
      }).finally(() => { pendingToken = null; });
    }
    return pendingToken;
  }

  function showTokenDialog() {
    return new Promise((resolve) => {
      const dialog = $("token-dialog");
      $("token").value = "";
      dialog.onclose = () => {
        const value = $("token").value.trim();
        if (dialog.returnValue === "ok" && value) {
          sessionStorage.setItem(TOKEN_KEY, value);
          resolve(value);
        } else {
          resolve(null);
        }
      };
      dialog.showModal();
    });
  }

  async function api(method, path, body) {
    for (let attempt = 0; attempt < 2; attempt++) {
      let token = sessionStorage.getItem(TOKEN_KEY);
      if (!token && method !== "GET") token = await askToken();
      if (!token && method !== "GET") return null;
      const headers = token ? { Authorization: `Bearer ${token}` } : {};
      if (body !== undefined) headers["Content-Type"] = "application/json";
      const response = await fetch(path, {
        method: method, headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const data = await response.json().catch(() => ({}));
      if (response.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        if (!(await askToken())) return null;
        continue;
      }
      if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
      return data;
    }
    return null;
  }

  function sendAuth(token) {
    if (token && ws && ws.readyState === WebSocket.OPEN && !ws.authSent) {
      ws.authSent = true;
      ws.send(JSON.stringify({ op: "auth", token: token }));
    }
  }

  // handlers: { open(), message(msg), close() }
  function connect(handlers) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws`);
    ws = socket;
    socket.onopen = () => {
      sendAuth(sessionStorage.getItem(TOKEN_KEY));
      retryMs = 500;
      handlers.open();
    };
    socket.onmessage = (event) => {
      let msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      handlers.message(msg);
    };
    socket.onclose = async (event) => {
      handlers.close();
      if (event.code === 4401) {
        // refused: the token was missing or wrong; ask unless a fresh one is already stored
        if (socket.authSent) sessionStorage.removeItem(TOKEN_KEY);
        if (!sessionStorage.getItem(TOKEN_KEY)) await askToken();
      }
      setTimeout(() => connect(handlers), retryMs);
      retryMs = Math.min(retryMs * 2, 5000);
    };
  }

  LA.net = { api, connect };
})();
