// A run's page: a form per verb, built from the run's description (GET /v1/{run}): its input kind and the JSON
// schema of its request. Answers are drawn by render.js.
"use strict";

const RUN = decodeURIComponent(location.pathname.split("/").pop());
const INPUT_FIELDS = ["inputs", "data", "attention"];

// FASTA text -> one sequence per record (header lines dropped); other text -> its non-empty lines.
function linesOf(text) {
  if (text.trimStart().startsWith(">")) {
    return text.split(/^>.*$/m).map((part) => part.replace(/\s+/g, "")).filter(Boolean);
  }
  return text.split(/\r?\n/).filter((line) => line.trim());
}

// CSV text with a header line -> {column: values}: numbers where they parse (dates stay text), "" -> null.
function columnsOf(text, dateColumn) {
  const rows = text.trim().split(/\r?\n/).map((line) => line.split(",").map((cell) => cell.trim()));
  const columns = {};
  rows[0].forEach((name, index) => {
    columns[name] = rows.slice(1).map((row) => {
      const cell = row[index] ?? "";
      if (cell === "") return null;
      return name === dateColumn || Number.isNaN(Number(cell)) ? cell : Number(cell);
    });
  });
  return columns;
}

function readFile(file, how) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    if (how === "base64") reader.readAsDataURL(file); else reader.readAsText(file);
  });
}

function optionInput(verb, name, schema) {
  const choices = schema.enum || (schema.anyOf || []).find((part) => part.enum)?.enum;
  const types = (schema.anyOf || [schema]).map((part) => part.type);
  const id = `${verb}-${name}`;
  let input;
  if (choices) {
    input = element("select", {id}, choices.map((choice) => element("option", {value: choice}, [choice])));
  } else if (types.includes("boolean")) {
    input = element("input", {id, type: "checkbox"});
  } else if (types.includes("integer") || types.includes("number")) {
    input = element("input", {id, type: "number", step: types.includes("integer") ? "1" : "any"});
  } else {
    input = element("input", {id, type: "text"});
  }
  if (schema.description && input.tagName === "INPUT") input.placeholder = schema.description;
  input.dataset.option = name;
  input.dataset.kind = choices ? "choice" : types.includes("boolean") ? "boolean" :
    types.includes("integer") || types.includes("number") ? "number" : "text";
  return element("label", {}, [name, " ", input]);
}

function verbForm(info, verb, spec) {
  const section = element("section", {class: "verb", id: `verb-${verb}`}, [element("h2", {}, [verb])]);
  const inputs = element("div", {class: "inputs"});
  if (spec.input === "text") {
    const area = element("textarea", {id: `${verb}-inputs`, rows: "4", placeholder: "one input per line"});
    const upload = element("input", {id: `${verb}-file`, type: "file"});
    upload.addEventListener("change", async () => {
      if (upload.files.length) area.value = linesOf(await readFile(upload.files[0], "text")).join("\n");
    });
    inputs.append(area, element("label", {class: "upload"}, ["or read a text / FASTA file: ", upload]));
  } else if (spec.input === "file") {
    inputs.append(element("label", {class: "upload"}, ["files: ",
      element("input", {id: `${verb}-file`, type: "file", multiple: ""})]));
  } else if (spec.input === "columns") {
    const columns = info.columns || {};
    const header = [columns.date_column, ...(columns.targets || []), ...(columns.features || [])].filter(Boolean);
    const area = element("textarea", {id: `${verb}-inputs`, rows: "8", placeholder: "CSV with a header line"});
    area.value = header.join(",") + "\n";
    inputs.append(area, element("p", {class: "hint"},
      [`the series, oldest row first, at least ${info.window || 1} rows: ${header.join(", ")}`]));
  }
  const options = element("div", {class: "options"});
  for (const [name, schema] of Object.entries(spec.schema.properties || {})) {
    if (!INPUT_FIELDS.includes(name)) options.append(optionInput(verb, name, schema));
  }
  const button = element("button", {id: `${verb}-run`, type: "button"}, [verb]);
  const result = element("div", {class: "result", id: `${verb}-result`});
  button.addEventListener("click", () => submit(info, verb, spec, section, result));
  section.append(inputs, options, button, result);
  return section;
}

async function requestBody(info, verb, spec, section) {
  const body = {};
  if (spec.input === "text") body.inputs = linesOf(section.querySelector(`#${verb}-inputs`).value);
  if (spec.input === "columns") {
    body.data = columnsOf(section.querySelector(`#${verb}-inputs`).value, (info.columns || {}).date_column);
  }
  if (spec.input === "file") {
    body.inputs = [];
    for (const file of section.querySelector(`#${verb}-file`).files) {
      const url = await readFile(file, "base64");
      body.inputs.push({name: file.name, data: url.slice(url.indexOf(",") + 1)});
    }
  }
  if (spec.attention) body.attention = true;
  for (const input of section.querySelectorAll("[data-option]")) {
    if (input.dataset.kind === "boolean") {
      if (input.checked) body[input.dataset.option] = true;
    } else if (input.value !== "") {
      body[input.dataset.option] = input.dataset.kind === "number" ? Number(input.value) : input.value;
    }
  }
  return body;
}

async function submit(info, verb, spec, section, result) {
  result.replaceChildren(element("p", {class: "busy"}, ["…"]));
  const body = await requestBody(info, verb, spec, section);
  const answer = await api(`/v1/${encodeURIComponent(RUN)}/${verb}`, body);
  if (!answer) {
    result.replaceChildren(element("p", {class: "error"}, [document.getElementById("error").textContent]));
    return;
  }
  result.replaceChildren(...renderOutputs(verb, answer.outputs, body, info));
  result.dataset.done = "1";
}

async function showRun() {
  document.getElementById("title").textContent = RUN;
  document.title = `${RUN} · rnnkit serve`;
  const info = await api(`/v1/${encodeURIComponent(RUN)}`);
  if (!info) return;
  const labels = info.labels ? ` Labels: ${info.labels.join(", ")}.` : "";
  document.getElementById("about").textContent = `A ${info.task} run.${labels}`;
  document.getElementById("verbs").replaceChildren(
    ...Object.entries(info.verbs).map(([verb, spec]) => verbForm(info, verb, spec)));
}

onToken(showRun);
showRun();
