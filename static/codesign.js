// Workshop pages where JavaScript runs: follow the facilitator by polling the workshop's
// state (the server answers 304 while nothing changed), count down the timer, and let
// the facilitator drag ideas between groups. Every page works without this file.

const POLL_MS = 3000;

function somethingBeingTyped() {
  const active = document.activeElement;
  if (active && ["TEXTAREA", "INPUT", "SELECT"].includes(active.tagName)) return true;
  return [...document.querySelectorAll("textarea")].some((area) => area.value.trim() !== "");
}

function follow(marker) {
  const url = marker.dataset.stateUrl;
  let etag = null;
  const version = Number(marker.dataset.version);
  const stage = marker.dataset.stage;
  const alwaysReload = marker.dataset.reload === "always";

  async function poll() {
    try {
      const headers = etag ? { "If-None-Match": etag } : {};
      const response = await fetch(url, { headers, cache: "no-cache", credentials: "same-origin" });
      if (response.status === 200) {
        etag = response.headers.get("ETag");
        const state = await response.json();
        // A new stage always reloads; other changes wait until nothing is being typed.
        if (state.stage !== stage || (state.version !== version && (alwaysReload || !somethingBeingTyped()))) {
          window.location.reload();
          return;
        }
      }
    } catch {
      // The network dropped: try again at the next tick.
    }
    window.setTimeout(poll, document.hidden ? POLL_MS * 3 : POLL_MS);
  }
  window.setTimeout(poll, POLL_MS);
}

function countDown(element) {
  const deadline = new Date(element.dataset.deadline);
  function tick() {
    const seconds = Math.max(0, Math.round((deadline - new Date()) / 1000));
    element.textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")} left`;
    if (seconds > 0) window.setTimeout(tick, 1000);
  }
  tick();
}

function dragAndDrop(board) {
  let dragged = null;
  board.querySelectorAll("[data-idea]").forEach((idea) => {
    idea.addEventListener("dragstart", (event) => {
      dragged = idea;
      event.dataTransfer.setData("text/plain", idea.dataset.idea);
    });
  });
  board.querySelectorAll("[data-cluster]").forEach((group) => {
    group.addEventListener("dragover", (event) => event.preventDefault());
    group.addEventListener("drop", async (event) => {
      event.preventDefault();
      if (!dragged) return;
      const body = new URLSearchParams({
        csrf_token: board.dataset.csrf, idea: dragged.dataset.idea, cluster: group.dataset.cluster,
      });
      const response = await fetch(board.dataset.moveUrl, { method: "POST", body, credentials: "same-origin" });
      if (response.ok) window.location.reload();
    });
  });
}

const marker = document.querySelector("[data-state-url]");
if (marker) follow(marker);
document.querySelectorAll("[data-deadline]").forEach(countDown);
const board = document.getElementById("cluster-board");
if (board) dragAndDrop(board);
