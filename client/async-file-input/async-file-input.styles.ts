import { css } from "lit";

/**
 * What the element looks like before it holds a file: the drop zone, the messages, the custom properties.
 * The file rows' styles (`file-list.styles.ts`) come with the file list's chunk, which adds them to the
 * shadow root before the first row renders.
 */
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
  .hint {
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
  .message {
    margin-top: 0.5rem;
  }
  .error,
  .message {
    color: var(--async-file-input-danger-color);
    font-size: 0.875em;
  }
  .message p {
    margin: 0;
  }
  .visually-hidden {
    position: absolute;
    width: 1px;
    height: 1px;
    overflow: hidden;
    clip-path: inset(50%);
    white-space: nowrap;
  }
  @media (forced-colors: active) {
    .drop-zone.dragging {
      border-color: Highlight;
    }
  }
`;
