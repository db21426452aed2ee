"use strict";
// The stimulus player of the listening pages (Web Audio API).
//
// Every stimulus of a screen is fetched and decoded before the screen is shown, so switching is
// instant and sample-accurate: selecting another stimulus starts it at the current playhead (a 5 ms
// cross-fade avoids clicks). Stimuli may differ in length: a playhead past a stimulus's end starts it
// from the beginning (or from the loop start). Loop repeats the whole stimulus, or the region between
// the loop marks; seek moves the playhead of whatever plays.

const FADE_S = 0.005;

class Player {
  constructor(onChange) {
    this.ctx = null;
    this.buffers = new Map();   // stimulus id -> AudioBuffer
    this.current = null;        // the selected stimulus (playing, or paused)
    this.source = null;
    this.gain = null;
    this.playing = false;
    this.offset = 0;            // playhead (s) when playback last (re)started, or where it rests
    this.startedAt = 0;         // ctx.currentTime of that (re)start
    this.loop = false;
    this.loopStart = 0;
    this.loopEnd = null;        // null: the end of each stimulus
    this.played = new Set();    // stimuli started at least once since load()
    this.onChange = onChange || (() => {});
  }

  context() {
    if (!this.ctx) this.ctx = new (window.AudioContext || window.webkitAudioContext)();
    return this.ctx;
  }

  // entries: [{id, url}]. Replaces the previous set; resolves once every file is decoded.
  async load(entries) {
    this.stop();
    this.buffers = new Map();
    this.played = new Set();
    this.current = null;
    this.offset = 0;
    this.loopStart = 0;
    this.loopEnd = null;
    const ctx = this.context();
    await Promise.all(entries.map(async (e) => {
      const r = await fetch(e.url);
      if (!r.ok) throw new Error(`cannot load audio (${r.status})`);
      this.buffers.set(e.id, await ctx.decodeAudioData(await r.arrayBuffer()));
    }));
    this.onChange();
  }

  duration(id) {
    const b = this.buffers.get(id);
    return b ? b.duration : 0;
  }

  get longest() {
    let d = 0;
    for (const b of this.buffers.values()) d = Math.max(d, b.duration);
    return d;
  }

  // The loop region [start, end) for stimulus id (the whole stimulus when the marks do not fit it).
  region(id) {
    const d = this.duration(id);
    const s = Math.min(this.loopStart, d);
    const e = this.loopEnd === null ? d : Math.min(this.loopEnd, d);
    return e - s >= 0.05 ? [s, e] : [0, d];
  }

  position() {
    if (!this.playing) return this.offset;
    let p = this.offset + (this.ctx.currentTime - this.startedAt);
    if (this.loop) {
      const [s, e] = this.region(this.current);
      if (p >= e) p = s + ((p - s) % (e - s));
    }
    return p;
  }

  // Starts stimulus id at the current playhead (switching keeps the position).
  async play(id) {
    if (!this.buffers.has(id)) throw new Error(`unknown stimulus ${id}`);
    const ctx = this.context();
    if (ctx.state !== "running") { try { await ctx.resume(); } catch (e) { /* no audio device */ } }
    let at = this.position();
    if (this.loop) {
      const [s, e] = this.region(id);
      if (at < s || at >= e) at = s;
    } else if (at >= this.duration(id)) {
      at = 0;
    }
    this._release();
    const src = ctx.createBufferSource();
    src.buffer = this.buffers.get(id);
    const gain = ctx.createGain();
    src.connect(gain).connect(ctx.destination);
    const t = ctx.currentTime;
    gain.gain.setValueAtTime(0, t);
    gain.gain.linearRampToValueAtTime(1, t + FADE_S);
    if (this.loop) {
      const [s, e] = this.region(id);
      src.loop = true;
      src.loopStart = s;
      src.loopEnd = e;
    }
    src.onended = () => {
      if (this.source !== src) return;
      this.source = null;
      this.playing = false;
      this.offset = this.loop ? this.region(id)[0] : 0;
      this.onChange();
    };
    src.start(t, at);
    Object.assign(this, { source: src, gain, current: id, playing: true, offset: at, startedAt: t });
    this.played.add(id);
    this.onChange();
  }

  // Play id, or pause it if it is the one playing.
  toggle(id) {
    if (this.playing && this.current === id) return this.pause();
    return this.play(id);
  }

  pause() {
    const p = this.position();
    this._release();
    this.playing = false;
    this.offset = p;
    this.onChange();
  }

  stop() {
    this._release();
    this.playing = false;
    this.offset = this.loop ? Math.min(this.loopStart, this.longest) : 0;
    this.onChange();
  }

  seek(t) {
    const p = Math.max(0, Math.min(t, this.longest));
    const wasPlaying = this.playing;
    this._release();
    this.playing = false;
    this.offset = p;
    if (wasPlaying && this.current !== null) return this.play(this.current);
    this.onChange();
  }

  setLoop(on) {
    this.loop = !!on;
    this._restart();
  }

  markLoopStart() {
    this.loopStart = this.position();
    if (this.loopEnd !== null && this.loopEnd <= this.loopStart + 0.05) this.loopEnd = null;
    this._restart();
  }

  markLoopEnd() {
    const p = this.position();
    if (p > this.loopStart + 0.05) this.loopEnd = p;
    this._restart();
  }

  clearLoopMarks() {
    this.loopStart = 0;
    this.loopEnd = null;
    this._restart();
  }

  _restart() {
    if (this.playing) {
      const p = this.position();
      this._release();
      this.playing = false;
      this.offset = p;
      return this.play(this.current);
    }
    this.onChange();
  }

  _release() {
    if (!this.source) return;
    const src = this.source, g = this.gain, t = this.ctx.currentTime;
    src.onended = null;
    g.gain.cancelScheduledValues(t);
    g.gain.setValueAtTime(g.gain.value, t);
    g.gain.linearRampToValueAtTime(0, t + FADE_S);
    try { src.stop(t + FADE_S); } catch (e) { /* already stopped */ }
    this.source = null;
  }

  // For the page (and its tests).
  state() {
    return {
      playing: this.playing, current: this.current, position: this.position(), loop: this.loop,
      loopStart: this.loopStart, loopEnd: this.loopEnd, played: [...this.played],
      contextState: this.ctx ? this.ctx.state : null,
    };
  }
}

window.Player = Player;
