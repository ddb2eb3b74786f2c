// Progressive enhancement only: every page works without this script.
import { initAll } from "/govuk-frontend/govuk-frontend.min.js";

initAll();

// Copy buttons beside read-only links: hidden until this script can make them work.
for (const button of document.querySelectorAll("button.holdfast-copy[data-copy]")) {
  const field = document.getElementById(button.dataset.copy);
  if (!field || !navigator.clipboard) continue;
  const label = button.innerHTML;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(field.value);
      button.textContent = "Copied";
    } catch {
      field.select();  // the browser refused: leave it selected to copy by hand
      button.textContent = "Select and copy";
    }
    setTimeout(() => { button.innerHTML = label; }, 3000);
  });
}
