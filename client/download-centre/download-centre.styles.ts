import { css } from "lit";

export const styles = css`
  /* Light or dark as the page's color-scheme says; each colour falls back to the file input's property,
     so one theme serves both elements. */
  :host {
    --_accent: var(--async-download-centre-accent, var(--async-file-input-accent, light-dark(#1d5bd6, #8ab4ff)));
    --_color: var(--async-download-centre-color, var(--async-file-input-color, light-dark(#1f2937, #e8eaee)));
    --_muted: var(--async-download-centre-muted-color, var(--async-file-input-muted-color, light-dark(#4b5563, #aab2bf)));
    --_background: var(--async-download-centre-background, var(--async-file-input-background, light-dark(#ffffff, #161b24)));
    --_border: var(--async-download-centre-border-color, var(--async-file-input-border-color, light-dark(#868e9c, #6f7a8b)));
    --_track: var(--async-download-centre-track-color, var(--async-file-input-track-color, light-dark(#e3e7ee, #323a48)));
    --_danger: var(--async-download-centre-danger-color, var(--async-file-input-danger-color, light-dark(#b42318, #ff8a80)));
    --_success: var(--async-download-centre-success-color, var(--async-file-input-success-color, light-dark(#167338, #6fdc8c)));
    --_radius: var(--async-download-centre-radius, var(--async-file-input-radius, 0.5rem));
    display: inline-block;
    position: relative;
    color: var(--_color);
    font-weight: normal;
  }
  :host([hidden]) {
    display: none;
  }
  * {
    box-sizing: border-box;
  }
  button {
    font: inherit;
    color: inherit;
    cursor: pointer;
  }
  button:disabled,
  button[aria-disabled="true"] {
    cursor: not-allowed;
    opacity: 0.6;
  }
  :focus-visible {
    outline: 2px solid var(--_accent);
    outline-offset: 2px;
  }
  [part~="toggle"] {
    display: inline-flex;
    align-items: center;
    gap: 0.4rem;
    padding: 0.35rem 0.75rem;
    border: 1px solid var(--_border);
    border-radius: var(--_radius);
    background: var(--_background);
  }
  svg {
    width: 1.1em;
    height: 1.1em;
    flex: none;
  }
  .badge {
    min-width: 1.4em;
    padding: 0 0.35em;
    border-radius: 1em;
    background: var(--_accent);
    color: var(--_background);
    font-size: 0.85em;
    font-weight: 600;
    text-align: center;
  }
  [part~="panel"] {
    position: absolute;
    inset-inline-end: 0;
    top: calc(100% + 0.25rem);
    z-index: 10;
    width: var(--async-download-centre-width, 22rem);
    max-width: calc(100vw - 2rem);
    max-height: 70vh;
    overflow: auto;
    padding: 0.75rem;
    border: 1px solid var(--_border);
    border-radius: var(--_radius);
    background: var(--_background);
    box-shadow: 0 0.5rem 1.5rem #0003;
  }
  [part~="panel"][hidden] {
    display: none;
  }
  h2 {
    margin: 0 0 0.5rem;
    font-size: 1rem;
  }
  h2:focus {
    outline: none;
  }
  .list {
    list-style: none;
    margin: 0;
    padding: 0;
    display: grid;
    gap: 0.5rem;
  }
  .item {
    display: flex;
    gap: 0.5rem;
    align-items: flex-start;
    padding: 0.5rem;
    border: 1px solid var(--_border);
    border-radius: var(--_radius);
  }
  .mark {
    flex: none;
    width: 1.25rem;
    text-align: center;
    font-weight: 700;
  }
  .text {
    flex: 1;
    min-width: 0;
    display: grid;
    gap: 0.2rem;
  }
  .filename {
    overflow-wrap: anywhere;
    font-weight: 600;
  }
  .status,
  .empty {
    color: var(--_muted);
    font-size: 0.9em;
  }
  .succeeded .status,
  .succeeded .mark {
    color: var(--_success);
  }
  .failed .status,
  .failed .mark,
  .error {
    color: var(--_danger);
  }
  .error {
    margin: 0 0 0.5rem;
    font-weight: 600;
  }
  .progress {
    display: block;
    height: 0.4rem;
    border-radius: 0.2rem;
    background: var(--_track);
    overflow: hidden;
  }
  .bar {
    display: block;
    height: 100%;
    background: var(--_accent);
    transition: width 0.2s;
  }
  .bar.indeterminate {
    opacity: 0.4;
  }
  .actions {
    display: flex;
    flex-wrap: wrap;
    gap: 0.25rem;
    justify-content: flex-end;
  }
  .actions button,
  .download {
    padding: 0.15rem 0.5rem;
    border: 1px solid var(--_border);
    border-radius: calc(var(--_radius) / 2);
    background: transparent;
    font-size: 0.9em;
  }
  .download {
    color: var(--_accent);
    font-weight: 600;
    text-decoration: underline;
  }
  .visually-hidden {
    position: absolute;
    width: 1px;
    height: 1px;
    overflow: hidden;
    clip-path: inset(50%);
    white-space: nowrap;
  }
  @media (prefers-reduced-motion: reduce) {
    .bar {
      transition: none;
    }
  }
`;
