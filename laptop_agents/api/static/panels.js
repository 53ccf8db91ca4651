// The page's text panels and tables (window.LA.panels): account strip, position, positions
// and trades tables, health, gates and tasks. Each takes the API's JSON and a price-decimals
// function (symbol -> decimals) and writes the DOM; nothing here fetches.
"use strict";

(function () {
  const LA = (window.LA = window.LA || {});
  const fmt = LA.fmt;
  const $ = (id) => document.getElementById(id);
  const D = fmt.DASH;

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  const sign = (v) => (fmt.missing(v) || Number(v) === 0 ? "" : Number(v) > 0 ? "good" : "bad");
  const tone = (v) => `n ${sign(v)}`.trim();

  // rows: arrays of [text, class]; shows the empty note instead of an empty table
  function fillTable(id, rows, emptyId) {
    const body = $(id).querySelector("tbody");
    body.replaceChildren(...rows.map((cells) => {
      const tr = document.createElement("tr");
      tr.append(...cells.map(([text, cls]) => cell(text, cls)));
      return tr;
    }));
    $(id).hidden = rows.length === 0;
    if (emptyId) $(emptyId).hidden = rows.length > 0;
  }

  function setText(id, text, cls) {
    $(id).textContent = text;
    if (cls !== undefined) $(id).className = cls;
  }

  // today: { realized, count } from the trades closed today (or null before they are read)
  function account(s, today) {
    const a = s.account || {};
    setText("equity", fmt.money(s.equity));
    setText("balance", fmt.money(a.balance));
    const p = s.position;
    const unrealized = fmt.missing(a.balance) ? (p ? p.unrealized_pnl : null)
      : subtract(s.equity, a.balance);
    setText("upnl", fmt.money(unrealized, { sign: true }), sign(unrealized));
    setText("pnl", today ? fmt.money(today.realized, { sign: true }) : D,
      today ? sign(today.realized) : "");
    // The balance moved today by the closed trades and by what the open positions cost so far
    // (entry fees, funding): shown apart, never as a realised loss.
    const open = today && !fmt.missing(s.realized_pnl_today)
      ? subtract(s.realized_pnl_today, today.realized) : null;
    setText("open-costs", open === null ? D : fmt.money(open, { sign: true }));
    setText("fees", fmt.money(a.fees_paid));
    setText("funding", fmt.money(a.funding_paid));
    setText("margin-used", fmt.money(a.margin_used));
    setText("available", fmt.money(a.available));
  }

  // a - b on decimal strings, exact (scaled to a common number of decimals)
  function subtract(a, b) {
    if (fmt.missing(a) || fmt.missing(b)) return null;
    const d = Math.max(fmt.decimalsOf(a), fmt.decimalsOf(b));
    const scaled = (v) => BigInt(fmt.fixed(v, d).replace(".", ""));
    const diff = scaled(a) - scaled(b);
    const negative = diff < 0n;
    const digits = (negative ? -diff : diff).toString().padStart(d + 1, "0");
    const text = d ? digits.slice(0, -d) + "." + digits.slice(-d) : digits;
    return (negative ? "-" : "") + text;
  }

  function sum(values) {
    return values.reduce((acc, v) => subtract(acc, subtract("0", v)), "0");
  }

  function position(p, symbol, d) {
    setText("position-symbol", symbol || "");
    const details = $("position-details");
    if (!p) {
      setText("position", "No open position.", "position-line empty");
      details.replaceChildren();
      return;
    }
    setText("position", `${p.side} ${fmt.qty(p.size)} @ ${fmt.price(p.entry, d)}`,
      "position-line " + (p.side === "long" ? "good" : "bad"));
    const rows = [
      ["Mark", fmt.price(p.mark_price, d)],
      ["Unrealised PnL", fmt.money(p.unrealized_pnl, { sign: true }), "upnl-pos"],
      ["Margin", `${fmt.money(p.margin)} at ${fmt.missing(p.leverage) ? D : p.leverage}x`, "margin"],
      ["Liquidation", fmt.price(p.liquidation_price, d), "liquidation"],
      ["Stop", fmt.price(p.stop, d) + (fmt.missing(p.trailing_stop) ? "" : " (trailing)")],
      ["Target", fmt.price(p.target, d)],
      ["Funding paid", fmt.money(p.funding_paid)],
      ["Opened", fmt.dateTime(p.opened_ms)],
    ];
    details.replaceChildren(...rows.flatMap(([label, value, id]) => {
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.textContent = value;
      if (id) dd.id = id;
      return [dt, dd];
    }));
  }

  // list: [{ symbol, position }], decimals: symbol -> price decimals
  function positions(list, decimals, selected) {
    fillTable("positions", list.map(({ symbol, position: p }) => {
      const d = decimals(symbol);
      return [[symbol, symbol === selected ? "sym selected" : "sym"], [p.side, p.side === "long" ? "good" : "bad"],
        [fmt.qty(p.size), "n"], [fmt.price(p.entry, d), "n"], [fmt.price(p.mark_price, d), "n"],
        [fmt.money(p.unrealized_pnl, { sign: true }), tone(p.unrealized_pnl)],
        [fmt.money(p.margin), "n"], [fmt.price(p.liquidation_price, d), "n"],
        [fmt.price(p.stop, d), "n"], [fmt.price(p.target, d), "n"]];
    }), "positions-empty");
  }

  function trades(list, decimals) {
    fillTable("trades", list.map((t) => {
      const d = decimals(t.symbol);
      return [[fmt.dateTime(t.opened_ms)], [fmt.dateTime(t.closed_ms)], [t.symbol],
        [t.side, t.side === "long" ? "good" : "bad"], [fmt.qty(t.qty), "n"],
        [fmt.price(t.entry_price, d), "n"], [fmt.price(t.exit_price, d), "n"],
        [fmt.money(t.realized_pnl, { sign: true }), tone(t.realized_pnl)],
        [fmt.money(t.fees), "n"], [fmt.money(t.funding), "n"], [t.exit_reason || ""]];
    }), "trades-empty");
  }

  function kv(id, rows) {
    $(id).replaceChildren(...rows.flatMap(([label, value, cls]) => {
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.textContent = value;
      if (cls) dd.className = cls;
      return [dt, dd];
    }));
  }

  const count = (n) => (typeof n === "number" ? n.toLocaleString("en-US") : D);
  const total = (byReason) => Object.values(byReason || {}).reduce((a, b) => a + b, 0);
  const reasons = (byReason) => Object.entries(byReason || {}).filter(([, n]) => n)
    .map(([r, n]) => `${r} ${n}`).join(", ");

  // exchange time minus the laptop's; a simulator's clock runs faster: its rate is shown too
  function clockOffset(ms, rate) {
    if (typeof ms !== "number") return "not synced";
    const text = Math.abs(ms) < 10000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
    return typeof rate === "number" && Math.abs(rate - 1) > 0.05
      ? `${text} (clock ×${rate.toFixed(rate < 10 ? 2 : 0)})` : text;
  }

  function health(s, feed) {
    const h = s.data_health || {};
    const lag = s.loop_lag_ms;
    const offset = feed.clock_offset_ms;
    kv("health", [
      ["Feed", `${fmt.missing(feed.state) ? D : feed.state}`, feed.state === "connected" ? "good" : "bad"],
      ["Last quote", fmt.age(feed.last_tick_age_s)],
      ["Clock offset", clockOffset(offset, feed.exchange_clock_rate)],
      ["Reconnects", count(feed.reconnects)],
      ["Quotes accepted", count(h.quotes_accepted)],
      ["Quotes rejected", `${count(total(h.quotes_rejected))} ${reasons(h.quotes_rejected)}`.trim()],
      ["Marks rejected", `${count(total(h.marks_rejected))} ${reasons(h.marks_rejected)}`.trim()],
      ["Candle gaps", count(h.candle_gaps)],
      ["Malformed frames", count(h.malformed_frames)],
      ["Pauses detected", count(h.pauses_detected)],
      ["Loop lag", lag ? `${lag.last.toFixed(1)} ms (p99 ${lag.p99.toFixed(1)}, max ${lag.max.toFixed(1)})` : D],
      ["Uptime", typeof s.uptime_s === "number" ? `${Math.floor(s.uptime_s / 60)} min ${Math.floor(s.uptime_s % 60)} s` : D],
    ]);
  }

  // gates: [{ symbol, gate }]; reasons every symbol shares hold for the account
  function gates(list) {
    const shared = list.length > 1 ? list.map((g) => g.gate.reasons || [])
      .reduce((a, b) => a.filter((r) => b.includes(r))) : [];
    const rows = list.map(({ symbol, gate }) => {
      const details = gate.details || {};
      const words = (gate.reasons || []).map((r) => (details[r] ? `${r}: ${details[r]}` : r));
      return [[symbol], gate.trading_allowed ? ["open", "good"] : ["paused", "warn"],
        [words.join("; ") || "none"]];
    });
    if (list.length > 1) {
      rows.push([["account"], shared.length ? ["paused", "warn"] : ["open", "good"],
        [shared.join(", ") || "none"]]);
    }
    fillTable("gates", rows);
  }

  function tasks(s) {
    const rows = Object.entries(s.tasks || {}).map(([name, t]) => [[name],
      [t.state, t.state === "running" ? "good" : t.state === "failed" ? "bad" : ""],
      [t.interval || D], [fmt.age(t.last_run_age_s), "n"]]);
    fillTable("tasks", rows, "tasks-empty");
  }

  LA.panels = { account, position, positions, trades, health, gates, tasks, subtract, sum };
})();
