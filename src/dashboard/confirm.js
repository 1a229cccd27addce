// Confirmations before anything that changes what is served: a modal <dialog> that says what will happen.
// The browser keeps focus inside it, Escape cancels, and focus returns to the button that opened it.
import { $, h } from "./dom.js";

/**
 * Asks the user; resolves true only for an explicit "ok". `lines` are plain text (inserted as text).
 * `danger` paints the confirm button red (abort, rollback-like actions).
 */
export function confirmAction({ title, lines, ok = "Confirm", danger = false }) {
  const dialog = $("confirm");
  const opener = document.activeElement;
  $("confirm-title").textContent = title;
  $("confirm-body").replaceChildren(
    h(
      "ul",
      {},
      lines.map((line) => h("li", {}, line)),
    ),
  );
  const okButton = $("confirm-ok");
  okButton.textContent = ok;
  okButton.className = danger ? "danger" : "";
  dialog.returnValue = "";
  dialog.showModal();
  // The safe choice has focus: Enter on an unread dialog cancels.
  $("confirm-cancel").focus();
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
        resolve(dialog.returnValue === "ok");
      },
      { once: true },
    );
  });
}
