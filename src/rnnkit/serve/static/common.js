// Shared by the pages: element building, and JSON calls with the bearer token when the server asks for one.
"use strict";

function element(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

function svgElement(tag, attributes = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = !message;
}

let tokenListener = null;
function onToken(listener) {
  tokenListener = listener;
  document.getElementById("token-box").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem("rnnkit-token", document.getElementById("token").value);
    document.getElementById("token-box").hidden = true;
    showError("");
    tokenListener();
  });
}

// The JSON answer of GET (body undefined) or POST path; on an error answer: shown, and null returned.
async function api(path, body) {
  const headers = {"Content-Type": "application/json"};
  const token = sessionStorage.getItem("rnnkit-token");
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, body === undefined ? {headers} :
    {method: "POST", headers, body: JSON.stringify(body)});
  const answer = await response.json().catch(() => ({error: `${response.status} ${response.statusText}`}));
  if (response.status === 401) document.getElementById("token-box").hidden = false;
  if (!response.ok) {
    showError(answer.error || JSON.stringify(answer));
    return null;
  }
  showError("");
  return answer;
}
