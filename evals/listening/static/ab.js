"use strict";
// A blind A/B screen: one item spoken by two systems (which one is A is randomized per listener and
// screen), the open reference when the test has one, and the vote: A, B, or no preference when the
// test allows ties. The vote buttons wake up once both A and B have been played.

const AB = {
  renderScreen(screen) {
    $("text").textContent = screen.text || "";
    $("question").textContent = L.test.question;
    const ref = $("reference-slot");
    ref.innerHTML = "";
    if (screen.reference) {
      const b = Listening.playButton(screen.reference.id, "Reference");
      b.classList.add("reference");
      ref.appendChild(b);
    }
    const pair = $("pair");
    pair.innerHTML = "";
    ["A", "B"].forEach((label, i) => {
      const b = Listening.playButton(screen.stimuli[i].id, label);
      b.classList.add("big");
      pair.appendChild(b);
    });
    $("vote-a").onclick = () => AB.vote("a");
    $("vote-b").onclick = () => AB.vote("b");
    $("vote-tie").onclick = () => AB.vote("tie");
    $("vote-tie").hidden = !L.test.tie;
    AB.refresh();
  },

  blocker() {
    if (!L.screen) return "loading";
    const unplayed = L.screen.stimuli.filter((s) => !player.played.has(s.id)).length;
    return unplayed ? `listen to both A and B (${unplayed} not played yet)` : "";
  },

  refresh() {
    const why = AB.blocker();
    for (const id of ["vote-a", "vote-b", "vote-tie"]) $(id).disabled = !!why || L.busy;
    $("hint").textContent = why ? "To vote: " + why + "." : "";
  },

  async vote(choice) {
    if (AB.blocker() || L.busy) return;
    if (choice === "tie" && !L.test.tie) return;
    L.busy = true;
    AB.refresh();
    try {
      await Listening.submit({ choice });
    } finally {
      L.busy = false;
      AB.refresh();
    }
  },
};

Listening.start(AB);
