// The model picker: every model the service serves (model-info), and the labels of the one chosen.
// demo.js hears "demo:model" and sends the next image to that model; a digit model gets the pad.
"use strict";

(() => {
  const picker = document.getElementById("model");
  const heading = document.getElementById("heading");
  const intro = document.getElementById("intro");
  const garments = { heading: heading.textContent, intro: intro.textContent, title: document.title };
  const digitTexts = {
    heading: "Handwritten digit classifier",
    intro: "Which digit, 0 to 9, is in the picture? Draw one on the pad below, or upload a photo of a " +
      "digit written on paper. Your image is sent to this server only.",
    title: "Handwritten digit classifier: demo",
  };

  // A model whose classes are the digits 0-9 reads handwriting: offer the drawing pad.
  const readsDigits = (labels) => labels.length === 10 && labels.every((label, i) => label === String(i));

  async function labelsOf(name) {
    // The TF Serving metadata route lists a model's labels in class-id order.
    const response = await fetch(`v1/models/${encodeURIComponent(name)}/metadata`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return (await response.json()).metadata.signature_def.labels;
  }

  async function choose(name) {
    const labels = await labelsOf(name);
    const digits = readsDigits(labels);
    document.getElementById("pad-section").hidden = !digits;
    document.getElementById("sample-box").hidden = digits;  // the samples are garments
    const texts = digits ? digitTexts : garments;
    heading.textContent = texts.heading;
    intro.textContent = texts.intro;
    document.title = texts.title;
    document.dispatchEvent(new CustomEvent("demo:model", { detail: { name, labels } }));
  }

  async function load() {
    const response = await fetch("model-info");
    if (!response.ok) return;  // demo.js says that the model is not available
    const info = await response.json();
    for (const model of info.models) {
      const option = document.createElement("option");
      option.value = model.name;
      option.textContent = `${model.name} (version ${model.default_version})`;
      picker.appendChild(option);
    }
    picker.value = info.name;
    picker.disabled = info.models.length < 2;
    picker.addEventListener("change", () =>
      choose(picker.value).catch((error) => {
        const box = document.getElementById("error");
        box.textContent = `Could not load model ${picker.value} (${error.message}).`;
        box.hidden = false;
      }),
    );
  }

  load();
})();
