// Kinema's web page: a thin client of the same /v1 API that openai-python's `client.videos` calls.
// It keeps the API key in localStorage, sends it as a Bearer token on every call (media too:
// fetched into blob URLs, since <video src> cannot carry a header), and polls the job list while
// anything is queued or running. All user text goes through textContent, never innerHTML.
"use strict";

const KEY_STORAGE = "kinema.apiKey";
const POLL_BUSY_MS = 1000;   // while a job is queued or in progress
const POLL_IDLE_MS = 5000;   // otherwise: notice jobs made elsewhere (CLI, SDK) without hammering
const LIST_LIMIT = 24;

const state = {
  key: localStorage.getItem(KEY_STORAGE) || "",
  options: null,
  cards: new Map(),   // video id -> {el, video}
  media: new Map(),   // video id -> blob URL of its MP4 (or a pending Promise)
  timer: null,
  refreshing: false,
  refreshAgain: false,
};

const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(message, status, param) {
    super(message);
    this.status = status;
    this.param = param;
  }
}

// One call to the API; JSON in and out, errors in the OpenAI shape become ApiError.
async function api(path, { method = "GET", json, form, raw = false } = {}) {
  const headers = { Authorization: `Bearer ${state.key}` };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // the browser sets the multipart boundary
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body });
  } catch (err) {
    throw new ApiError(`cannot reach the server (${err.message})`, 0);
  }
  if (response.status === 401) {
    askForKey("The server refused this API key. Paste a valid one.");
    throw new ApiError("the API key was refused", 401);
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    let param = null;
    try {
      const payload = await response.json();
      if (payload && payload.error) {
        message = payload.error.message || message;
        param = payload.error.param || null;
      } else if (payload && payload.detail) {
        message = typeof payload.detail === "string" ? payload.detail : JSON.stringify(payload.detail);
      }
    } catch (_) { /* not JSON: keep the status line */ }
    throw new ApiError(message, response.status, param);
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

// ---- API key ---------------------------------------------------------------------------------

function askForKey(message = "") {
  $("key-panel").hidden = false;
  $("create-panel").hidden = true;
  $("jobs-panel").hidden = true;
  $("change-key").hidden = true;
  $("key-error").textContent = message;
  $("api-key").value = "";
  $("api-key").focus();
  stopPolling();
}

async function start() {
  if (!state.key) {
    askForKey();
    return;
  }
  try {
    state.options = await api("/v1/kinema/options");
  } catch (err) {
    if (err.status !== 401) askForKey(`Cannot load the server's options: ${err.message}`);
    return;
  }
  fillOptions(state.options);
  $("key-panel").hidden = true;
  $("create-panel").hidden = false;
  $("jobs-panel").hidden = false;
  $("change-key").hidden = false;
  refresh();
}

// ---- the form ---------------------------------------------------------------------------------

// The options payload lists allowed values; each entry may be a plain value or {id|value, label}.
function optionValues(list) {
  return (list || []).map((item) => {
    if (item !== null && typeof item === "object") {
      const value = String(item.id ?? item.value ?? item.name);
      return { value, label: String(item.label ?? item.description ?? value) };
    }
    return { value: String(item), label: String(item) };
  });
}

function fillSelect(select, list, preferred, format = (o) => o.label) {
  const previous = select.value;
  select.replaceChildren();
  for (const option of optionValues(list)) {
    const el = document.createElement("option");
    el.value = option.value;
    el.textContent = format(option);
    select.append(el);
  }
  const wanted = [previous, preferred].map((v) => (v == null ? "" : String(v)));
  for (const value of wanted) {
    if (value && [...select.options].some((o) => o.value === value)) {
      select.value = value;
      break;
    }
  }
}

function fillOptions(options) {
  const defaults = options.defaults || {};
  fillSelect($("size"), options.sizes, defaults.size ?? options.default_size,
    (o) => (o.label === o.value ? o.value.replace("x", " × ") : o.label));
  fillSelect($("seconds"), options.seconds, defaults.seconds ?? options.default_seconds,
    (o) => (o.label === o.value ? `${o.value} s` : o.label));
  fillSelect($("model"), options.models, defaults.model ?? options.default_model);
  $("model").closest(".field").hidden = $("model").options.length < 2;
}

function onModeChange() {
  const mode = $("mode").value;
  $("image-field").hidden = mode !== "animate";
  $("source-field").hidden = mode !== "extend" && mode !== "remix";
  // A remix keeps the source's size and duration; an extension adds `seconds` to it.
  $("size").disabled = mode === "extend" || mode === "remix";
  $("seconds").disabled = mode === "remix";
  $("source-hint").textContent = mode === "extend"
    ? "The new seconds continue this video; the result is the stitched whole."
    : mode === "remix" ? "The same size and duration, redrawn with your prompt." : "";
  fillSources();
}

function fillSources() {
  const select = $("source");
  const previous = select.value;
  select.replaceChildren();
  const done = [...state.cards.values()].map((c) => c.video).filter((v) => v.status === "completed");
  for (const video of done) {
    const el = document.createElement("option");
    el.value = video.id;
    el.textContent = `${clip(video.prompt || video.id, 48)} (${video.size}, ${video.seconds} s)`;
    select.append(el);
  }
  if (!done.length) {
    const el = document.createElement("option");
    el.value = "";
    el.textContent = "No completed videos yet";
    select.append(el);
  }
  if ([...select.options].some((o) => o.value === previous)) select.value = previous;
}

async function submitCreate(event) {
  event.preventDefault();
  const error = $("create-error");
  error.textContent = "";
  const prompt = $("prompt").value.trim();
  if (!prompt) {
    error.textContent = "Write a prompt first.";
    $("prompt").focus();
    return;
  }
  const mode = $("mode").value;
  const button = $("submit");
  button.disabled = true;
  try {
    let video;
    if (mode === "remix" || mode === "extend") {
      const source = $("source").value;
      if (!source) throw new ApiError("Choose a completed video to start from.", 0, "source");
      if (mode === "remix") {
        video = await api(`/v1/videos/${encodeURIComponent(source)}/remix`, { method: "POST", json: { prompt } });
      } else {
        // Multipart, as openai-python sends `video={"id": ...}`: the field is named video[id].
        const form = new FormData();
        form.append("prompt", prompt);
        form.append("seconds", $("seconds").value);
        form.append("video[id]", source);
        video = await api("/v1/videos/extensions", { method: "POST", form });
      }
    } else {
      const form = new FormData();
      form.append("prompt", prompt);
      form.append("size", $("size").value);
      form.append("seconds", $("seconds").value);
      if ($("model").value) form.append("model", $("model").value);
      if (mode === "animate") {
        const file = $("image").files[0];
        if (!file) throw new ApiError("Choose an image to animate.", 0, "input_reference");
        form.append("input_reference", file, file.name);
      }
      video = await api("/v1/videos", { method: "POST", form });
    }
    upsertCard(video, true);
    refresh();
  } catch (err) {
    error.textContent = err.param ? `${err.message} (${err.param})` : err.message;
  } finally {
    button.disabled = false;
  }
}

async function previewEnhance() {
  const prompt = $("prompt").value.trim();
  const box = $("enhance-preview");
  if (!prompt) {
    $("create-error").textContent = "Write a prompt first.";
    return;
  }
  $("create-error").textContent = "";
  try {
    const result = await api("/v1/kinema/enhance", {
      method: "POST",
      json: { prompt, size: $("size").value, seconds: $("seconds").value },
    });
    $("enhance-text").textContent = result.enhanced_prompt;
    $("enhance-unknown").textContent = [
      result.problem || (result.changed === false ? "Already detailed: kept as written." : ""),
      unknownWords(result.unknown_words),
    ].filter(Boolean).join(" ");
    box.hidden = false;
  } catch (err) {
    $("create-error").textContent = err.message;
    box.hidden = true;
  }
}

// ---- the job list -----------------------------------------------------------------------------

function stopPolling() {
  clearTimeout(state.timer);
  state.timer = null;
}

// One refresh at a time: a call while one is in flight (a submit during a poll) asks for another
// right after it, so that there is never more than one polling timer.
async function refresh() {
  if (state.refreshing) {
    state.refreshAgain = true;
    return;
  }
  state.refreshing = true;
  stopPolling();
  let busy = false;
  let keyRefused = false;
  try {
    const page = await api(`/v1/videos?limit=${LIST_LIMIT}&order=desc`);
    const videos = page.data || [];
    const seen = new Set();
    for (const video of videos) {
      upsertCard(video, false);
      seen.add(video.id);
    }
    // Cards of jobs that fell off the first page (or were deleted elsewhere) go away.
    for (const id of [...state.cards.keys()]) if (!seen.has(id)) removeCard(id);
    busy = videos.some((v) => v.status === "queued" || v.status === "in_progress");
    const running = videos.filter((v) => v.status === "in_progress").length;
    const queued = videos.filter((v) => v.status === "queued").length;
    $("jobs-status").textContent = busy ? `${running} generating, ${queued} queued` : "";
    $("jobs-empty").hidden = videos.length > 0;
    $("jobs-error").textContent = "";
    fillSources();
  } catch (err) {
    keyRefused = err.status === 401;
    if (!keyRefused) $("jobs-error").textContent = `Cannot list videos: ${err.message}`;
  } finally {
    state.refreshing = false;
  }
  const again = state.refreshAgain;
  state.refreshAgain = false;
  if (keyRefused || !state.key) return; // polling resumes once a key is saved
  state.timer = setTimeout(refresh, again ? 0 : busy ? POLL_BUSY_MS : POLL_IDLE_MS);
}

function upsertCard(video, prepend) {
  let card = state.cards.get(video.id);
  if (!card) {
    const el = $("job-template").content.firstElementChild.cloneNode(true);
    el.dataset.id = video.id;
    el.querySelector("[data-role=delete]").addEventListener("click", () => deleteVideo(video.id));
    el.querySelector("[data-role=extend]").addEventListener("click", () => startFrom(video.id, "extend"));
    el.querySelector("[data-role=remix]").addEventListener("click", () => startFrom(video.id, "remix"));
    card = { el, video };
    state.cards.set(video.id, card);
    placeCard(el, video, prepend);
  }
  card.video = video;
  renderCard(card);
}

// Keep the list newest first whatever order cards arrive in.
function placeCard(el, video, prepend) {
  const list = $("jobs");
  if (prepend) {
    list.prepend(el);
    return;
  }
  const before = [...list.children].find((child) => {
    const other = state.cards.get(child.dataset.id);
    return other && other.video.created_at < video.created_at;
  });
  list.insertBefore(el, before || null);
}

function renderCard(card) {
  const { el, video } = card;
  const role = (name) => el.querySelector(`[data-role=${name}]`);
  const ext = video.kinema || {};
  el.dataset.status = video.status;

  role("status").textContent = video.status.replace("_", " ");
  role("status").className = `status status-${video.status}`;
  const bits = [video.size, `${video.seconds} s`, ext.mode, video.model].filter(Boolean);
  if (ext.seed !== undefined && ext.seed !== null) bits.push(`seed ${ext.seed}`);
  role("meta").textContent = bits.join(" · ");
  role("prompt").textContent = video.prompt || "";

  const progress = role("progress");
  const active = video.status === "queued" || video.status === "in_progress";
  progress.hidden = !active;
  progress.value = video.progress || 0;
  progress.setAttribute("aria-label", `Progress of "${clip(video.prompt || video.id, 40)}"`);
  progress.textContent = `${video.progress || 0}%`;

  role("enhanced-wrap").hidden = !ext.enhanced_prompt;
  role("enhanced").textContent = ext.enhanced_prompt || "";
  role("unknown").textContent = unknownWords(ext.unknown_words);
  if (ext.enhanced_prompt && !card.openedEnhanced) {
    role("enhanced-wrap").open = true;
    card.openedEnhanced = true;
  }

  renderBadges(role("badges"), ext.provenance);

  const failure = video.error ? video.error.message || video.error.code || "failed" : "";
  role("error").textContent = failure;

  const completed = video.status === "completed";
  role("extend").hidden = !completed;
  role("remix").hidden = !completed;
  if (completed) attachMedia(card);
}

// C2PA manifest state and the invisible watermark, as the server measured them on the stored MP4:
// {c2pa: "valid"|"invalid"|"missing", c2pa_state: "Trusted"|"Valid"|..., watermark: bool,
//  watermark_confidence: 0..1}.
function renderBadges(list, provenance) {
  list.replaceChildren();
  if (!provenance) return;
  const add = (text, ok, title) => {
    const li = document.createElement("li");
    li.className = `badge ${ok ? "ok" : "bad"}`;
    li.textContent = text;
    li.title = title;
    list.append(li);
  };
  const c2paOk = provenance.c2pa === "valid";
  const state = provenance.c2pa_state || provenance.c2pa;
  add(`C2PA: ${state}`, c2paOk,
    c2paOk ? "Signed Content Credentials: who made this file and how (kinema verify)"
      : "The C2PA manifest is missing or does not verify");
  const found = Boolean(provenance.watermark);
  const confidence = provenance.watermark_confidence;
  const pct = typeof confidence === "number" ? ` ${formatConfidence(confidence)}` : "";
  add(found ? `Watermark found${pct ? ` (${pct.trim()})` : ""}` : "No watermark", found,
    found ? "Kinema's invisible watermark was detected in the frames (kinema detect)"
      : "Kinema's invisible watermark was not detected");
}

// 0.99999 reads "99.999%", not a rounded-up "100%": the point is how sure, not that it is certain.
function formatConfidence(value) {
  const pct = value * 100;
  let digits = 1;
  while (digits < 4 && pct.toFixed(digits) === "100." + "0".repeat(digits) && value < 1) digits += 1;
  return `${pct.toFixed(digits)}%`;
}

// <video src> cannot send the Authorization header: fetch the MP4 once into a blob URL.
async function attachMedia(card) {
  const { el, video } = card;
  const id = video.id;
  if (state.media.has(id)) {
    const url = state.media.get(id);
    if (typeof url === "string") showMedia(el, video, url);
    return;
  }
  const pending = (async () => {
    const response = await api(`/v1/videos/${encodeURIComponent(id)}/content?variant=video`, { raw: true });
    return URL.createObjectURL(await response.blob());
  })();
  state.media.set(id, pending);
  try {
    const url = await pending;
    if (!state.cards.has(id)) {
      URL.revokeObjectURL(url);
      return;
    }
    state.media.set(id, url);
    showMedia(el, state.cards.get(id).video, url);
  } catch (err) {
    state.media.delete(id);
    el.querySelector("[data-role=error]").textContent = `Cannot load the video: ${err.message}`;
  }
}

function showMedia(el, video, url) {
  const player = el.querySelector("[data-role=player]");
  if (!player.querySelector("video")) {
    const tag = document.createElement("video");
    tag.src = url;
    tag.controls = true;
    tag.loop = true;
    tag.muted = true;
    tag.autoplay = true;
    tag.playsInline = true;
    tag.setAttribute("aria-label", `Video: ${clip(video.prompt || video.id, 60)}`);
    player.append(tag);
  }
  const link = el.querySelector("[data-role=download]");
  link.href = url;
  link.download = `${video.id}.mp4`;
  link.hidden = false;
}

function removeCard(id) {
  const card = state.cards.get(id);
  if (card) card.el.remove();
  state.cards.delete(id);
  const url = state.media.get(id);
  if (typeof url === "string") URL.revokeObjectURL(url);
  state.media.delete(id);
}

async function deleteVideo(id) {
  const card = state.cards.get(id);
  try {
    await api(`/v1/videos/${encodeURIComponent(id)}`, { method: "DELETE" });
    removeCard(id);
    fillSources();
    $("jobs-empty").hidden = state.cards.size > 0;
  } catch (err) {
    if (card) card.el.querySelector("[data-role=error]").textContent = `Cannot delete: ${err.message}`;
  }
}

function startFrom(id, mode) {
  $("mode").value = mode;
  onModeChange();
  $("source").value = id;
  $("prompt").focus();
  $("create-panel").scrollIntoView({ behavior: "smooth", block: "start" });
}

function unknownWords(words) {
  return words && words.length ? `Words outside Kinema's world (ignored): ${words.join(", ")}.` : "";
}

function clip(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

// ---- wiring -----------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (!key) {
      $("key-error").textContent = "Paste an API key.";
      return;
    }
    state.key = key;
    localStorage.setItem(KEY_STORAGE, key);
    start();
  });
  $("change-key").addEventListener("click", () => {
    localStorage.removeItem(KEY_STORAGE);
    state.key = "";
    askForKey();
  });
  $("create-form").addEventListener("submit", submitCreate);
  $("preview-enhance").addEventListener("click", previewEnhance);
  $("mode").addEventListener("change", onModeChange);
  $("prompt").addEventListener("input", () => { $("enhance-preview").hidden = true; });
  onModeChange();
  start();
});
