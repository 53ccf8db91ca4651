// Number and time formatting of the page (window.LA.fmt). The API sends money as decimal
// strings ("9984.02266555"); they are rounded here on the digits (half away from zero), never
// through a float, so the page shows exactly what the daemon holds, rounded:
//   money: 2 decimals with thousands separators ("9,984.02");
//   prices: the instrument's decimals, learned per symbol from the quotes' strings.
// Times are shown in the browser's time zone.
"use strict";

(function () {
  const LA = (window.LA = window.LA || {});
  const DASH = "–";
  const missing = (v) => v === null || v === undefined || v === "";

  function decimalsOf(v) {
    if (missing(v)) return 0;
    const s = String(v);
    if (/e/i.test(s)) return 0;
    const dot = s.indexOf(".");
    return dot < 0 ? 0 : s.length - dot - 1;
  }

  // "1234.5678", 2 -> "1234.57" (exact, on the digits)
  function fixed(v, d) {
    let s = String(v).trim();
    if (/e/i.test(s)) s = Number(s).toFixed(Math.max(d, 20));
    if (!/^[+-]?\d*(\.\d*)?$/.test(s) || s === "" || s === ".") return null;
    const negative = s.startsWith("-");
    s = s.replace(/^[+-]/, "");
    const [intPart, fracPart = ""] = s.split(".");
    const frac = (fracPart + "0".repeat(d + 1)).slice(0, d + 1);
    let scaled = BigInt((intPart || "0") + frac.slice(0, d));
    if (Number(frac[d]) >= 5) scaled += 1n;
    const digits = scaled.toString().padStart(d + 1, "0");
    const head = digits.slice(0, digits.length - d);
    const tail = d ? "." + digits.slice(digits.length - d) : "";
    const zero = scaled === 0n;
    return (negative && !zero ? "-" : "") + head + tail;
  }

  function group(s) {
    const negative = s.startsWith("-");
    const body = negative ? s.slice(1) : s;
    const [head, tail] = body.split(".");
    const grouped = head.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (negative ? "-" : "") + grouped + (tail !== undefined ? "." + tail : "");
  }

  // 2 decimals, separators; { sign: true } prefixes "+" to a positive amount
  function money(v, opts) {
    if (missing(v)) return DASH;
    const s = fixed(v, 2);
    if (s === null) return DASH;
    const plus = opts && opts.sign && !s.startsWith("-") && Number(s) !== 0 ? "+" : "";
    return plus + group(s);
  }

  function price(v, d) {
    if (missing(v)) return DASH;
    const s = fixed(v, d);
    return s === null ? DASH : group(s);
  }

  function qty(v) {
    return missing(v) ? DASH : String(v);
  }

  const pad = (n, w) => String(n).padStart(w || 2, "0");

  function dateTime(ms) {
    if (missing(ms)) return DASH;
    const t = new Date(Number(ms));
    return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ` +
      `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
  }

  function clock(ms) {
    if (missing(ms)) return DASH;
    const t = new Date(Number(ms));
    return `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
  }

  // tick marks of the charts' time axes: local time (the charts themselves count in UTC)
  function tick(seconds, type) {
    const t = new Date(seconds * 1000);
    if (type === 0) return String(t.getFullYear());
    if (type === 1 || type === 2) return `${pad(t.getMonth() + 1)}-${pad(t.getDate())}`;
    if (type === 4 || t.getSeconds() !== 0) return clock(seconds * 1000);
    return `${pad(t.getHours())}:${pad(t.getMinutes())}`;
  }

  function zone() {
    const minutes = -new Date().getTimezoneOffset();
    const sign = minutes < 0 ? "-" : "+";
    const abs = Math.abs(minutes);
    let name = "";
    try { name = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { name = ""; }
    return `${name ? name + ", " : ""}UTC${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  }

  function age(seconds) {
    if (typeof seconds !== "number") return DASH;
    if (seconds < 60) return `${seconds.toFixed(1)} s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    return `${(seconds / 3600).toFixed(1)} h ago`;
  }

  LA.fmt = { DASH, missing, decimalsOf, fixed, group, money, price, qty, dateTime, clock, tick,
    zone, age };
})();
