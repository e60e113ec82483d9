import { css } from "lit";

export const styles = css`
  /* Light or dark as the page's color-scheme says (light unless it declares dark): the OS preference alone
     would turn the element dark on a white page. Browsers without light-dark() inherit the page's colours. */
  :host {
    --async-file-input-accent: light-dark(#1d5bd6, #8ab4ff);
    --async-file-input-color: light-dark(#1f2937, #e8eaee);
    --async-file-input-muted-color: light-dark(#4b5563, #aab2bf);
    --async-file-input-background: light-dark(#ffffff, #161b24);
    --async-file-input-hover-background: light-dark(#eef3fc, #1f2a3c);
    --async-file-input-border-color: light-dark(#868e9c, #6f7a8b);
    --async-file-input-track-color: light-dark(#e3e7ee, #323a48);
    --async-file-input-danger-color: light-dark(#b42318, #ff8a80);
    --async-file-input-success-color: light-dark(#167338, #6fdc8c);
    --async-file-input-radius: 0.5rem;
    display: block;
    color: var(--async-file-input-color);
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
  button:disabled {
    cursor: not-allowed;
    opacity: 0.6;
  }
  :focus-visible {
    outline: 2px solid var(--async-file-input-accent);
    outline-offset: 2px;
  }
  .drop-zone {
    display: flex;
    flex-direction: column;
    align-items: center;
    gap: 0.25rem;
    width: 100%;
    padding: 1.25rem 1rem;
    border: 2px dashed var(--async-file-input-border-color);
    border-radius: var(--async-file-input-radius);
    background: var(--async-file-input-background);
    text-align: center;
    cursor: pointer;
  }
  .drop-zone:has(:focus-visible) {
    outline: 2px solid var(--async-file-input-accent);
    outline-offset: 2px;
  }
  .drop-zone.disabled {
    cursor: not-allowed;
    opacity: 0.6;
  }
  .drop-zone.disabled button {
    opacity: 1;
  }
  .drop-zone:not(.disabled):hover,
  .drop-zone.dragging {
    border-color: var(--async-file-input-accent);
    background: var(--async-file-input-hover-background);
  }
  .drop-zone.dragging {
    border-style: solid;
  }
  .drop-zone svg {
    width: 1.75rem;
    height: 1.75rem;
    color: var(--async-file-input-accent);
  }
  .choose {
    padding: 0;
    border: 0;
    background: none;
    color: var(--async-file-input-accent);
    font-weight: 600;
    text-decoration: underline;
    text-underline-offset: 0.2em;
  }
  .choose:focus-visible {
    outline: none;
  }
  .hint,
  .details {
    color: var(--async-file-input-muted-color);
    font-size: 0.875em;
  }
  .files {
    display: grid;
    gap: 0.5rem;
    margin: 0;
    padding: 0;
    list-style: none;
  }
  .drop-zone + .files,
  .message {
    margin-top: 0.5rem;
  }
  .file {
    display: flex;
    flex-wrap: wrap;
    align-items: center;
    gap: 0.5rem 0.75rem;
    padding: 0.5rem 0.75rem;
    border: 1px solid var(--async-file-input-border-color);
    border-radius: var(--async-file-input-radius);
    background: var(--async-file-input-background);
  }
  .thumb {
    display: grid;
    place-items: center;
    flex: none;
    width: 2.5rem;
    height: 2.5rem;
    border-radius: calc(var(--async-file-input-radius) / 2);
    background: var(--async-file-input-track-color);
    color: var(--async-file-input-muted-color);
    object-fit: cover;
  }
  .thumb svg {
    width: 1.25rem;
    height: 1.25rem;
  }
  .info {
    display: grid;
    flex: 1 1 12rem;
    gap: 0.125rem;
    min-width: 0;
  }
  .name {
    font-weight: 600;
    overflow-wrap: anywhere;
  }
  a {
    color: var(--async-file-input-accent);
  }
  .done .details {
    color: var(--async-file-input-success-color);
  }
  .checking .details {
    color: var(--async-file-input-muted-color);
  }
  .invalid {
    border-color: var(--async-file-input-danger-color);
  }
  .invalid .details {
    color: var(--async-file-input-danger-color);
  }
  .error,
  .message {
    color: var(--async-file-input-danger-color);
    font-size: 0.875em;
  }
  .message p {
    margin: 0;
  }
  .progress {
    height: 0.375rem;
    margin-top: 0.25rem;
    overflow: hidden;
    border-radius: 1rem;
    background: var(--async-file-input-track-color);
  }
  .bar {
    height: 100%;
    background: var(--async-file-input-accent);
    transition: width 0.2s;
  }
  .actions {
    display: flex;
    gap: 0.5rem;
    margin-left: auto;
  }
  .action {
    min-height: 2rem;
    padding: 0.25rem 0.75rem;
    border: 1px solid var(--async-file-input-border-color);
    border-radius: calc(var(--async-file-input-radius) / 1.5);
    background: transparent;
    font-size: 0.875em;
  }
  .action:not(:disabled):hover {
    background: var(--async-file-input-hover-background);
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
  @media (forced-colors: active) {
    .progress {
      border: 1px solid CanvasText;
    }
    .bar {
      background: Highlight;
      forced-color-adjust: none;
    }
    .drop-zone.dragging {
      border-color: Highlight;
    }
  }
`;
