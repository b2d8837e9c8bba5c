// Drawing a verb's answer: probabilities as bars, tags as coloured tokens, attention as a heatmap, a forecast as
// a chart (inline SVG). Chosen by what the answer holds, not by the run's task.
"use strict";

const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f"];

function colourOf(tag) {
  const type = tag.replace(/^[BIESL]-/, "");
  let hash = 0;
  for (const character of type) hash = (hash * 31 + character.charCodeAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length];
}

function probabilityBars(record) {
  const rows = Object.entries(record.probabilities).sort((a, b) => b[1] - a[1]);
  return element("div", {class: "bars"}, rows.map(([label, p]) => {
    const bar = element("div", {class: "bar"});
    bar.style.width = `${(100 * p).toFixed(1)}%`;
    const row = element("div", {class: "bar-row"}, [element("span", {class: "bar-label"}, [label]),
      element("div", {class: "bar-track"}, [bar]), element("span", {class: "bar-value"}, [p.toFixed(4)])]);
    row.dataset.label = label;
    row.dataset.p = String(p);
    return row;
  }));
}

function taggedTokens(record) {
  return element("p", {class: "tagged"}, record.tokens.map((token, index) => {
    const tag = record.tags[index];
    const span = element("span", {class: "token", title: tag}, [element("span", {class: "word"}, [token]),
      element("sub", {}, [tag])]);
    span.dataset.tag = tag;
    if (tag !== "O") span.style.background = colourOf(tag) + "55";
    return span;
  }));
}

function scoredTokens(record) {
  return element("div", {}, [
    element("p", {class: "score"}, [`log P = ${record.logprob.toFixed(3)}, perplexity = ${record.perplexity.toFixed(3)}`]),
    element("p", {class: "tagged"}, record.tokens.map((token, index) => {
      const span = element("span", {class: "token", title: record.token_logprobs[index].toFixed(3)}, [token]);
      span.style.background = `rgba(225, 87, 89, ${Math.min(1, -record.token_logprobs[index] / 10).toFixed(2)})`;
      return span;
    }))]);
}

function heatmap(attention) {
  const top = Math.max(1e-12, ...attention.weights.flat());  // darkest cell: the largest weight
  const table = element("table", {class: "heatmap"});
  table.append(element("tr", {}, [element("th"), ...attention.source.map((token) => element("th", {}, [token]))]));
  attention.target.forEach((token, row) => {
    table.append(element("tr", {}, [element("th", {}, [token]), ...attention.weights[row].map((weight) => {
      const cell = element("td", {title: weight.toFixed(3)});
      cell.dataset.weight = String(weight);
      cell.style.background = `rgba(78, 121, 167, ${(weight / top).toFixed(3)})`;
      return cell;
    })]));
  });
  return table;
}

function forecastChart(record, columns, info) {
  const target = record.columns[0];
  const history = (columns[target] || []).slice(-Math.max(30, 3 * record.horizon));
  const forecast = record.forecast.map((row) => row[0]);
  const lower = record.lower ? record.lower.map((row) => row[0]) : forecast;
  const upper = record.upper ? record.upper.map((row) => row[0]) : forecast;
  const values = [...history, ...lower, ...upper].filter((value) => value !== null);
  const low = Math.min(...values), high = Math.max(...values);
  const width = 640, height = 240, pad = 30, count = history.length + forecast.length;
  const x = (index) => pad + (index * (width - 2 * pad)) / Math.max(1, count - 1);
  const y = (value) => height - pad - ((value - low) * (height - 2 * pad)) / Math.max(1e-12, high - low);
  const path = (points) => points.map(([i, v], k) => `${k ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join("");
  const start = history.length - 1;
  const svg = svgElement("svg", {class: "chart", viewBox: `0 0 ${width} ${height}`, width, height});
  const band = [...upper.map((v, h) => [start + 1 + h, v]), ...lower.map((v, h) => [start + 1 + h, v]).reverse()];
  svg.append(svgElement("path", {d: path(band) + "Z", class: "interval", fill: "#4e79a733"}),
    svgElement("path", {d: path(history.map((v, i) => [i, v])), class: "history", fill: "none", stroke: "#333"}),
    svgElement("path", {d: path([[start, history[start]], ...forecast.map((v, h) => [start + 1 + h, v])]),
      class: "forecast", fill: "none", stroke: "#e15759", "stroke-width": "2"}));
  for (const [value, label] of [[high, high.toPrecision(4)], [low, low.toPrecision(4)]]) {
    const text = svgElement("text", {x: 2, y: y(value) + 4, class: "axis"});
    text.textContent = label;
    svg.append(text);
  }
  const table = element("table", {class: "forecast-table"}, [element("tr", {}, ["step", "forecast", "lower", "upper"]
    .map((name) => element("th", {}, [name])))]);
  forecast.forEach((value, h) => table.append(element("tr", {}, [h + 1, value, lower[h], upper[h]]
    .map((cell) => element("td", {}, [typeof cell === "number" && !Number.isInteger(cell) ? cell.toFixed(3) : String(cell)])))));
  return element("div", {}, [element("p", {}, [`${target}: ${record.horizon} steps after ${record.origin}` +
    (record.level ? `, ${Math.round(100 * record.level)}% interval` : "")]), svg, table]);
}

function renderOutputs(verb, outputs, body, info) {
  return outputs.map((output) => {
    const card = element("div", {class: "output"});
    if (typeof output === "string") {
      card.append(element("pre", {class: "generated"}, [output]));
    } else if (output.probabilities) {
      card.append(element("p", {class: "input"}, [output.text ?? output.file ?? output.name ?? ""]), probabilityBars(output));
    } else if (output.tags) {
      card.append(taggedTokens(output));
    } else if (output.token_logprobs) {
      card.append(scoredTokens(output));
    } else if (output.translation !== undefined) {
      card.append(element("p", {class: "input"}, [output.source]),
        element("p", {class: "translation"}, [output.translation]));
      if (output.attention) card.append(heatmap(output.attention));
    } else if (output.caption !== undefined) {
      card.append(element("p", {class: "input"}, [output.image ?? ""]), element("p", {class: "translation"}, [output.caption]));
    } else if (output.forecast) {
      card.append(forecastChart(output, body.data || {}, info));
    } else {
      card.append(element("pre", {}, [JSON.stringify(output, null, 2)]));
    }
    return card;
  });
}
