// Packyard web UI: progressive enhancement only. Every page works without this file.
// Copy buttons: <button data-copy="ID"> copies the text of the element with that id.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(() => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  });
});
// Copy buttons are useless without script: they are hidden until this file runs.
for (const button of document.querySelectorAll("button[data-copy]")) button.hidden = false;
// Confirmation fields: a destructive button stays disabled until the name is typed.
for (const input of document.querySelectorAll("input[data-confirm]")) {
  const button = input.form && input.form.querySelector("button[type=submit]");
  if (!button) continue;
  const update = () => { button.disabled = input.value !== input.dataset.confirm; };
  input.addEventListener("input", update);
  update();
}
