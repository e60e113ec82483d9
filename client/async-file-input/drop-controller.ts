import type { ReactiveController, ReactiveControllerHost } from "lit";
import { filesOfDrop } from "./file-checks.js";

export interface DropOptions {
  disabled(): boolean;
  /** Files (and the names of folders, which cannot be uploaded) dropped or pasted. */
  take(files: File[], folders: string[]): void;
}

/** Takes files dropped anywhere on the host or pasted while it has focus; `dragging` drives the look. */
export class DropController implements ReactiveController {
  /** Files are being dragged over the host (and it would take them). */
  dragging = false;
  readonly #host: ReactiveControllerHost & HTMLElement;
  readonly #options: DropOptions;

  constructor(host: ReactiveControllerHost & HTMLElement, options: DropOptions) {
    this.#host = host;
    this.#options = options;
    host.addController(this);
  }

  hostConnected(): void {
    this.#host.addEventListener("dragover", this.#over);
    this.#host.addEventListener("dragleave", this.#leave);
    this.#host.addEventListener("drop", this.#drop);
    this.#host.addEventListener("paste", this.#paste);
  }

  hostDisconnected(): void {
    this.#host.removeEventListener("dragover", this.#over);
    this.#host.removeEventListener("dragleave", this.#leave);
    this.#host.removeEventListener("drop", this.#drop);
    this.#host.removeEventListener("paste", this.#paste);
  }

  #over = (event: DragEvent) => {
    if (!event.dataTransfer?.types.includes("Files")) return;
    // Always prevented, so that a missed drop never makes the browser open the file instead.
    event.preventDefault();
    const disabled = this.#options.disabled();
    event.dataTransfer.dropEffect = disabled ? "none" : "copy";
    this.#setDragging(!disabled);
  };

  #leave = (event: DragEvent) => {
    // Moving between children fires dragleave too; only leaving the host itself ends the drag.
    const to = event.relatedTarget as Node | null;
    if (!to || (to !== this.#host && !this.#host.contains(to))) this.#setDragging(false);
  };

  #drop = (event: DragEvent) => {
    event.preventDefault();
    this.#setDragging(false);
    if (this.#options.disabled()) return;
    const { files, folders } = filesOfDrop(event.dataTransfer);
    this.#options.take(files, folders);
  };

  #paste = (event: ClipboardEvent) => {
    const files = [...(event.clipboardData?.files ?? [])];
    if (files.length === 0 || this.#options.disabled()) return;
    event.preventDefault();
    this.#options.take(files, []);
  };

  #setDragging(dragging: boolean): void {
    if (this.dragging === dragging) return;
    this.dragging = dragging;
    this.#host.requestUpdate();
  }
}
