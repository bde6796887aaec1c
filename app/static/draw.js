// The digit pad: draw with a mouse, pen or finger (pointer events); the drawing is sent like an
// upload (a PNG, dark ink on white paper), so the service prepares it as it prepares a photo of a
// digit on paper. It is classified when the pen has rested a moment, or with the button.
"use strict";

(() => {
  const pad = document.getElementById("pad");
  const context = pad.getContext("2d");
  const INK = "#111";
  const PAPER = "#fff";
  const PEN = 18;  // px on the 280 px pad: a digit drawn across most of it gets MNIST's stroke width
  const REST_MS = 500;  // classify once the pen has been lifted this long (another stroke cancels it)
  let last = null;  // the previous point of the stroke being drawn
  let timer = null;
  let drawn = false;

  function clear() {
    clearTimeout(timer);
    context.fillStyle = PAPER;
    context.fillRect(0, 0, pad.width, pad.height);
    context.fillStyle = INK;
    drawn = false;
  }

  // Pointer position in the canvas's own pixels, whatever size CSS gives it.
  function point(event) {
    const box = pad.getBoundingClientRect();
    return [
      ((event.clientX - box.left) * pad.width) / box.width,
      ((event.clientY - box.top) * pad.height) / box.height,
    ];
  }

  function send() {
    clearTimeout(timer);
    if (!drawn) return;
    pad.toBlob((blob) => {
      const detail = { blob, name: "drawing.png" };
      document.dispatchEvent(new CustomEvent("demo:classify", { detail }));
    }, "image/png");
  }

  pad.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;  // the main button, a pen's tip, a finger
    event.preventDefault();
    clearTimeout(timer);
    pad.setPointerCapture(event.pointerId);  // keep the stroke when the pen leaves the pad
    last = point(event);
    context.beginPath();
    context.arc(last[0], last[1], PEN / 2, 0, 2 * Math.PI);  // a tap is a dot
    context.fill();
    drawn = true;
  });

  pad.addEventListener("pointermove", (event) => {
    if (last === null) return;
    // A fast pen moves several times per frame: draw every reported position, not just the last.
    const moves = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    for (const move of moves.length ? moves : [event]) {
      const next = point(move);
      context.beginPath();
      context.moveTo(last[0], last[1]);
      context.lineTo(next[0], next[1]);
      context.stroke();
      last = next;
    }
  });

  for (const type of ["pointerup", "pointercancel"]) {
    pad.addEventListener(type, () => {
      if (last === null) return;
      last = null;
      timer = setTimeout(send, REST_MS);
    });
  }

  context.lineWidth = PEN;
  context.lineCap = "round";
  context.lineJoin = "round";
  context.strokeStyle = INK;
  clear();
  document.getElementById("pad-clear").addEventListener("click", clear);
  document.getElementById("pad-classify").addEventListener("click", send);
})();
