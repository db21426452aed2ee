"use strict";
// A MUSHRA screen (ITU-R BS.1534-3): the open reference, then every stimulus (hidden reference and
// anchors among them, in this listener's order) with a 0–100 slider over the five labelled bands.
// The answer can be sent once every stimulus has been played and at least one is rated 100.

const BANDS = ["Bad", "Poor", "Fair", "Good", "Excellent"];

const Mushra = {
  renderScreen(screen) {
    $("text").textContent = screen.text || "";
    const ref = $("reference-slot");
    ref.innerHTML = "";
    if (screen.reference) {
      const b = Listening.playButton(screen.reference.id, "Reference");
      b.classList.add("reference");
      ref.appendChild(b);
    }
    const rows = $("rows");
    rows.innerHTML = "";
    const scale = document.createElement("div");
    scale.className = "row scale";
    scale.appendChild(document.createElement("span"));
    const bands = document.createElement("div");
    bands.className = "bands";
    BANDS.forEach((name, k) => {
      const band = document.createElement("span");
      band.textContent = `${name} ${k * 20}–${k * 20 + 20}`;
      bands.appendChild(band);
    });
    scale.appendChild(bands);
    scale.appendChild(document.createElement("span"));
    rows.appendChild(scale);
    screen.stimuli.forEach((s, i) => {
      const row = document.createElement("div");
      row.className = "row";
      row.appendChild(Listening.playButton(s.id, `Sample ${String.fromCharCode(65 + i)}`));
      const slider = document.createElement("input");
      slider.type = "range";
      slider.min = "0";
      slider.max = "100";
      slider.step = "1";
      slider.value = "0";
      slider.className = "score";
      slider.dataset.stimulus = s.id;
      slider.setAttribute("aria-label", `score of sample ${String.fromCharCode(65 + i)}`);
      const out = document.createElement("output");
      out.textContent = "0";
      slider.oninput = () => { out.textContent = slider.value; Mushra.refresh(); };
      row.appendChild(slider);
      row.appendChild(out);
      rows.appendChild(row);
    });
    $("submit").onclick = () => Mushra.submit();
    Mushra.refresh();
  },

  scores() {
    const out = {};
    for (const s of document.querySelectorAll("#rows input.score")) out[s.dataset.stimulus] = parseInt(s.value, 10);
    return out;
  },

  // Why the answer cannot be sent yet ("" when it can).
  blocker() {
    if (!L.screen) return "loading";
    const unplayed = L.screen.stimuli.filter((s) => !player.played.has(s.id)).length;
    const top = Object.values(Mushra.scores()).some((v) => v === 100);
    const why = [];
    if (unplayed) why.push(`play every sample (${unplayed} not played yet)`);
    if (!top) why.push("rate at least one sample 100 (the reference is hidden among them)");
    return why.join("; ");
  },

  refresh() {
    const why = Mushra.blocker();
    $("submit").disabled = !!why || L.busy;
    $("hint").textContent = why ? "To continue: " + why + "." : "";
  },

  async submit() {
    if (Mushra.blocker() || L.busy) return;
    L.busy = true;
    $("submit").disabled = true;
    try {
      await Listening.submit({ ratings: Mushra.scores() });
    } finally {
      L.busy = false;
      Mushra.refresh();
    }
  },
};

Listening.start(Mushra);
