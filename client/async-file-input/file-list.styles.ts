import { css } from "lit";

/**
 * The file rows' styles, in the file list's chunk: added after the element's own (`async-file-input.styles.ts`),
 * in the order the two were once one sheet, so the cascade is unchanged.
 */
export const rowStyles = css`
  .drop-zone + .files {
    margin-top: 0.5rem;
  }
  .details {
    color: var(--async-file-input-muted-color);
    font-size: 0.875em;
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
    /* A row off screen skips style, layout and paint, yet stays in the accessibility tree and in find-in-page:
       with 200 rows, each render laid them all out (a Chromium trace: ~13 ms of layout a frame). */
    content-visibility: auto;
    contain-intrinsic-size: auto 3.5rem;
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
  @media (forced-colors: active) {
    .progress {
      border: 1px solid CanvasText;
    }
    .bar {
      background: Highlight;
      forced-color-adjust: none;
    }
  }
`;
