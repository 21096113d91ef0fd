// Kizuna console: sign-in, and forms that call the console's REST API.
//
// <form data-login>: POST /v2/console/authenticate, keep the token in a cookie for the pages.
// <form data-api="/v2/console/..." data-method="POST|PUT|DELETE">: send the fields as JSON with
//   the token as a Bearer header. Field types: number inputs send numbers, checkboxes booleans,
//   elements with data-json parse their text as JSON, data-optional fields are left out when empty.
//   data-confirm asks first; data-then says what follows success: "reload" (default),
//   "redirect:<path>", or "show" (the answer goes into the element named by data-output).
"use strict";

const COOKIE = "kizuna_console";

function token() {
  const found = document.cookie.split("; ").find((c) => c.startsWith(COOKIE + "="));
  return found ? decodeURIComponent(found.slice(COOKIE.length + 1)) : "";
}

function flash(message, kind) {
  const el = document.getElementById("flash");
  if (!el) { return; }
  el.textContent = message;
  el.className = "flash " + (kind || "ok");
  el.hidden = false;
}

async function call(method, url, body) {
  const headers = { "Authorization": "Bearer " + token() };
  const init = { method, headers };
  if (body !== undefined && method !== "GET") {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(url, init);
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : {}; } catch (e) { data = { message: text }; }
  if (resp.status === 401 && url !== "/v2/console/authenticate") {
    window.location = "/login?next=" + encodeURIComponent(window.location.pathname + window.location.search);
  }
  if (!resp.ok) {
    const err = new Error((data && data.message) || resp.statusText);
    err.code = data && data.code;
    throw err;
  }
  return data;
}

function formBody(form) {
  const body = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) { continue; }
    if (el.type === "radio" && !el.checked) { continue; }
    let value;
    if (el.type === "checkbox") {
      value = el.checked;
    } else if (el.dataset.json !== undefined) {
      if (el.value.trim() === "" && el.dataset.optional !== undefined) { continue; }
      try { value = JSON.parse(el.value); } catch (e) {
        throw new Error((el.dataset.label || el.name) + " is not valid JSON: " + e.message);
      }
    } else if (el.type === "number") {
      if (el.value === "" && el.dataset.optional !== undefined) { continue; }
      value = Number(el.value);
    } else {
      if (el.value === "" && el.dataset.optional !== undefined) { continue; }
      value = el.value;
    }
    body[el.name] = value;
  }
  return body;
}

async function login(form) {
  const body = formBody(form);
  try {
    const data = await call("POST", "/v2/console/authenticate", body);
    const maxAge = Number(form.dataset.expiry) || 86400;
    document.cookie = COOKIE + "=" + encodeURIComponent(data.token) +
      "; path=/; max-age=" + maxAge + "; SameSite=Strict" +
      (window.location.protocol === "https:" ? "; Secure" : "");
    window.location = form.dataset.next || "/status";
  } catch (err) {
    flash(err.message, "error");
  }
}

async function submitApi(form) {
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) { return; }
  const method = (form.dataset.method || "POST").toUpperCase();
  let url = form.dataset.api;
  let body;
  try {
    body = formBody(form);
  } catch (err) {
    flash(err.message, "error");
    return;
  }
  if (method === "GET" || method === "DELETE") {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(body)) { query.append(k, typeof v === "string" ? v : JSON.stringify(v)); }
    const qs = query.toString();
    if (qs) { url += (url.includes("?") ? "&" : "?") + qs; }
    body = undefined;
  }
  const button = form.querySelector("button[type=submit], button:not([type])");
  if (button) { button.disabled = true; }
  try {
    const data = await call(method, url, body);
    const then = form.dataset.then || "reload";
    if (then === "show") {
      const out = document.getElementById(form.dataset.output);
      if (out) { out.textContent = JSON.stringify(data, null, 2); out.hidden = false; }
      flash(form.dataset.success || "Done.", "ok");
    } else if (then.startsWith("redirect:")) {
      window.location = then.slice("redirect:".length);
    } else {
      sessionStorage.setItem("kizuna-flash", form.dataset.success || "Done.");
      window.location.reload();
    }
  } catch (err) {
    flash(err.message + (err.code !== undefined ? " (code " + err.code + ")" : ""), "error");
  } finally {
    if (button) { button.disabled = false; }
  }
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.matches("form[data-login]")) {
    event.preventDefault();
    login(form);
  } else if (form.matches("form[data-api]")) {
    event.preventDefault();
    submitApi(form);
  }
});

document.addEventListener("DOMContentLoaded", () => {
  const message = sessionStorage.getItem("kizuna-flash");
  if (message) {
    sessionStorage.removeItem("kizuna-flash");
    flash(message, "ok");
  }
});
