r"""The in-page quiz's JavaScript, written for this project (no library, no request to any host).

`STATS_JS` mirrors `synthmed.reader.study` (Clopper-Pearson bounds, the exact two-sided binomial test
against 0.5, `chance_test`) and Python's `format` for '.Nf' and '.Ng' (round half to even on the double's
exact decimal value), so the page shows the very strings `synthmed.reader.page_quiz.shown_result` gives.
It only defines functions; the tests run it on its own in Chromium. `APP_JS` is the quiz itself; it
expects `STATS_JS` before it in the same function scope and `root`, the quiz's container element.

Statistics. For integer shape parameters the regularised incomplete beta is a binomial tail,
I_x(a, b) = P(Bin(a + b - 1, x) >= a), so the Clopper-Pearson bounds scipy computes as
beta.ppf(alpha/2, k, n-k+1) and beta.ppf(1-alpha/2, k+1, n-k) are the x with P(Bin(n, x) >= k) = alpha/2
and P(Bin(n, x) <= k) = alpha/2. Each tail is summed term by term in log space (log C(n, j) accumulated
as a sum of logs, so no log-gamma is needed) and solved by bisection on the doubles until the bracket is
two adjacent doubles. scipy's two-sided `binomtest` against 0.5 is min(1, 2 P(X <= min(k, n-k))), and 1
when k = n/2; up to n = 1000 it is computed exactly with BigInt (tests/test_page_quiz.py checks that
scipy's values round to the same shown strings there).
"""

from __future__ import annotations

STATS_JS = r"""
function sqCheckCounts(k, n) {
  if (!(Number.isInteger(k) && Number.isInteger(n) && n >= 1 && k >= 0 && k <= n)) {
    throw new Error("need 0 <= k <= n and n >= 1; got k=" + k + ", n=" + n);
  }
}

// log C(n, j) for j = 0..n, accumulated exactly as log C(n, j) = log C(n, j-1) + log(n-j+1) - log(j).
function sqLogChoose(n) {
  const out = new Float64Array(n + 1);
  for (let j = 1; j <= n; j++) out[j] = out[j - 1] + Math.log(n - j + 1) - Math.log(j);
  return out;
}

// P(from <= X <= to) for X ~ Bin(n, x); lc = sqLogChoose(n).
function sqBinomRange(n, x, from, to, lc) {
  if (from > to) return 0;
  if (x <= 0) return from === 0 ? 1 : 0;
  if (x >= 1) return to === n ? 1 : 0;
  const lx = Math.log(x);
  const l1x = Math.log1p(-x);
  let sum = 0;
  for (let j = from; j <= to; j++) sum += Math.exp(lc[j] + j * lx + (n - j) * l1x);
  return sum;
}

// The x in (0, 1) where f(x) crosses target; f increasing (rising=true) or decreasing. Bisection on the
// doubles, until lo and hi are neighbours.
function sqSolve(f, target, rising) {
  let lo = 0;
  let hi = 1;
  for (let step = 0; step < 2200; step++) {
    const mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    const below = f(mid) < target;
    if (below === rising) lo = mid; else hi = mid;
  }
  return lo + (hi - lo) / 2;
}

// Exact (Clopper-Pearson) two-sided 1 - alpha interval for k successes in n trials, as study.clopper_pearson.
function sqClopperPearson(k, n, alpha) {
  sqCheckCounts(k, n);
  const lc = sqLogChoose(n);
  // The ends k = n and k = 0 have closed forms, written as scipy's beta.ppf evaluates them (the same
  // doubles: (alpha/2)^(1/n), and 1 - (alpha/2)^(1/n) with 1 - alpha/2 rounded first), so a bound such as
  // 0.0005 (k = n = 1, alpha = 0.001) rounds for display as Python rounds it.
  let low = 0;
  if (k === n) low = Math.pow(alpha / 2, 1 / n);
  else if (k > 0) low = sqSolve((x) => sqBinomRange(n, x, k, n, lc), alpha / 2, true);
  let high = 1;
  if (k === 0) high = -Math.expm1(Math.log1p(-(1 - alpha / 2)) / n);
  else if (k < n) high = sqSolve((x) => sqBinomRange(n, x, 0, k, lc), alpha / 2, false);
  return [low, high];
}

// Exact two-sided binomial test against 0.5, as study.binomial_p_value (scipy's binomtest):
// min(1, 2 P(X <= min(k, n-k))). Up to n = 1000 the sum of binomial coefficients is exact (BigInt) and
// converted once, so the p-value is the exact one correctly rounded (a p-value that is a decimal tie, such
// as 2/64 = 0.03125, then rounds as Python rounds it); beyond, it is summed in log space.
function sqBinomialPValue(k, n) {
  sqCheckCounts(k, n);
  if (k === 0.5 * n) return 1;
  const m = Math.min(k, n - k);
  if (n <= 1000) {
    let term = 1n;
    let sum = 1n;
    for (let j = 1; j <= m; j++) {
      term = (term * BigInt(n - j + 1)) / BigInt(j);  // C(n, j), exact
      sum += term;
    }
    return Math.min(1, Number(2n * sum) / 2 ** n);  // 2 ** n <= 2 ** 1000: the division is exact
  }
  const lc = sqLogChoose(n);
  const shift = n * Math.LN2;
  let sum = 0;
  for (let j = 0; j <= m; j++) sum += Math.exp(lc[j] - shift);
  return Math.min(1, 2 * sum);
}

// study.chance_test: accuracy, the 1 - alpha interval, p against 0.5 and whether it beats chance.
function sqChanceTest(k, n, alpha) {
  if (!(alpha > 0 && alpha < 1)) throw new Error("alpha " + alpha + " must lie in (0, 1)");
  const [low, high] = sqClopperPearson(k, n, alpha);
  const p = sqBinomialPValue(k, n);
  const accuracy = k / n;
  return {nCorrect: k, n: n, alpha: alpha, accuracy: accuracy, low: low, high: high, pValue: p,
          beatsChance: p < alpha && accuracy > 0.5};
}

// round(|x| / 10^lowest) as a BigInt, half to even, on the exact decimal value of the double |x|.
function sqRoundAt(x, lowest) {
  const parts = Math.abs(x).toExponential(99).split("e");  // 100 significant digits: enough to see a tie
  const digits = parts[0].replace(".", "");
  const keep = parseInt(parts[1], 10) - lowest + 1;  // digits whose place value is >= 10^lowest
  if (keep < 0) return 0n;
  let kept = keep > 0 ? BigInt(digits.slice(0, keep).padEnd(keep, "0")) : 0n;
  const rest = digits.slice(keep);
  const first = rest.charAt(0);
  const tail = /[1-9]/.test(rest.slice(1));
  if (first > "5" || (first === "5" && (tail || kept % 2n === 1n))) kept += 1n;
  return kept;
}

function sqPoint(digits, decimals) {
  const s = digits.padStart(decimals + 1, "0");
  return decimals > 0 ? s.slice(0, s.length - decimals) + "." + s.slice(s.length - decimals) : s;
}

// Python's format(x, "." + decimals + "f").
function sqFormatF(x, decimals) {
  if (!Number.isFinite(x)) throw new Error("cannot format " + x);
  const text = sqPoint(x === 0 ? "0" : sqRoundAt(x, -decimals).toString(), decimals);
  return (x < 0 || Object.is(x, -0) ? "-" : "") + text;
}

// Python's format(x, "." + precision + "g").
function sqFormatG(x, precision) {
  if (!Number.isFinite(x)) throw new Error("cannot format " + x);
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  let e = parseInt(Math.abs(x).toExponential(99).split("e")[1], 10);
  let kept = sqRoundAt(x, e - precision + 1);
  if (kept.toString().length > precision) {  // rounded up to the next power of ten
    kept /= 10n;
    e += 1;
  }
  const strip = (s) => (s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s);
  let text;
  if (e >= -4 && e < precision) {
    text = strip(sqPoint(kept.toString(), precision - 1 - e));
  } else {
    const d = kept.toString();
    const mantissa = strip(d.charAt(0) + "." + d.slice(1));
    text = mantissa + "e" + (e < 0 ? "-" : "+") + String(Math.abs(e)).padStart(2, "0");
  }
  return (x < 0 ? "-" : "") + text;
}

// The 32-bit keyed hash of the truth codes (synthmed.reader.page_quiz.truth_code): FNV-1a over the UTF-8
// bytes, then a final avalanche (xor-shift-multiply) so that neighbouring inputs differ in every bit.
function sqHash32(text) {
  const bytes = new TextEncoder().encode(text);
  let h = 0x811c9dc5;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0).toString(16).padStart(8, "0");
}

function sqTruthCode(salt, imageId, truth) {
  return sqHash32(salt + "\n" + imageId + "\n" + truth);
}
"""

APP_JS = r"""
const data = JSON.parse(root.querySelector("script.sq-data").textContent);
const el = (name) => root.querySelector(".sq-" + name);
const [REAL, SYNTHETIC] = data.truth_values;
const items = data.items;
const answers = [];  // {answer, confidence, seconds}, one per item answered
let shownAt = 0;

function randomPseudonym() {
  const bytes = new Uint8Array(4);
  if (window.crypto && window.crypto.getRandomValues) window.crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
const defaultReader = randomPseudonym();
el("reader").value = defaultReader;

// The confidence choices: CONFIDENCE_RANGE, the middle one selected for each image.
const group = "sq-confidence-" + randomPseudonym();
const [lowConfidence, highConfidence] = data.confidence_range;
const middle = Math.round((lowConfidence + highConfidence) / 2);
for (let c = lowConfidence; c <= highConfidence; c++) {
  const label = document.createElement("label");
  const input = document.createElement("input");
  input.type = "radio";
  input.name = group;
  input.value = String(c);
  label.appendChild(input);
  label.appendChild(document.createTextNode(" " + c + " "));
  el("confidence").appendChild(label);
}
const confidenceInputs = Array.from(el("confidence").querySelectorAll("input"));

function truthOf(item) {  // only called once every image is answered
  if (sqTruthCode(data.salt, item.id, REAL) === item.code) return REAL;
  if (sqTruthCode(data.salt, item.id, SYNTHETIC) === item.code) return SYNTHETIC;
  throw new Error("quiz item " + item.id + ": its truth code matches neither answer");
}

function show() {
  const i = answers.length;
  el("progress").textContent = "Image " + (i + 1) + " of " + items.length;
  el("image").src = items[i].src;
  el("image").alt = "quiz image " + (i + 1) + " of " + items.length;
  for (const input of confidenceInputs) input.checked = input.value === String(middle);
  shownAt = performance.now();
}

function answer(value) {
  if (answers.length >= items.length) return;
  const chosen = confidenceInputs.find((input) => input.checked);
  const seconds = Math.max(0, (performance.now() - shownAt) / 1000);
  answers.push({answer: value, confidence: chosen ? Number(chosen.value) : middle, seconds: seconds});
  if (answers.length < items.length) show(); else finish();
}

function setText(name, text, value) {
  const node = el(name);
  node.textContent = text;
  if (value !== undefined) node.dataset.value = String(value);
}

function finish() {
  el("ask").hidden = true;
  const truths = items.map(truthOf);
  let k = 0;
  const kinds = {};
  kinds[REAL] = [0, 0];
  kinds[SYNTHETIC] = [0, 0];
  truths.forEach((truth, i) => {
    const right = answers[i].answer === truth;
    k += right ? 1 : 0;
    kinds[truth][0] += right ? 1 : 0;
    kinds[truth][1] += 1;
  });
  const t = sqChanceTest(k, items.length, data.alpha);
  setText("k", String(k), k);
  setText("n", String(t.n), t.n);
  setText("accuracy", sqFormatF(t.accuracy, 3), t.accuracy);
  setText("low", sqFormatF(t.low, 3), t.low);
  setText("high", sqFormatF(t.high, 3), t.high);
  setText("p", sqFormatG(t.pValue, 3), t.pValue);
  let verdict;
  if (t.beatsChance) verdict = data.verdicts.above;
  else if (t.pValue < data.alpha) verdict = data.verdicts.below;
  else verdict = data.verdicts.chance;
  setText("verdict", verdict, t.beatsChance);
  setText("real-right", String(kinds[REAL][0]));
  setText("real-n", String(kinds[REAL][1]));
  setText("synthetic-right", String(kinds[SYNTHETIC][0]));
  setText("synthetic-n", String(kinds[SYNTHETIC][1]));
  el("result").hidden = false;
}

function csvField(value) {
  const text = String(value);
  return /[",\r\n]/.test(text) || text !== text.trim() ? '"' + text.replace(/"/g, '""') + '"' : text;
}

function csvText() {
  const reader = el("reader").value.trim() || defaultReader;
  const experience = el("experience").value.trim();
  const lines = [data.columns.map(csvField).join(",")];
  answers.forEach((a, i) => {
    const item = items[i];
    const row = {reader_id: reader, reader_experience: experience, image_id: item.id, modality: item.modality,
                 resolution: item.resolution, generator: item.generator, truth: truthOf(item),
                 answer: a.answer, confidence: a.confidence, response_time_s: a.seconds.toFixed(3)};
    lines.push(data.columns.map((c) => {
      if (!(c in row)) throw new Error("the quiz does not know the responses column " + c);
      return csvField(row[c]);
    }).join(","));
  });
  return lines.join("\n") + "\n";
}

function download() {
  const reader = (el("reader").value.trim() || defaultReader).replace(/[^A-Za-z0-9_.-]+/g, "_");
  const url = URL.createObjectURL(new Blob([csvText()], {type: "text/csv;charset=utf-8"}));
  const link = document.createElement("a");
  link.href = url;
  link.download = "synthmed-reads-" + reader + ".csv";
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

el("real").addEventListener("click", () => answer(REAL));
el("synthetic").addEventListener("click", () => answer(SYNTHETIC));
el("download").addEventListener("click", download);
el("noscript-note").hidden = true;
el("ask").hidden = false;
show();
"""
