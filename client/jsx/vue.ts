/**
 * `async-uploads/vue`: types `<async-file-input>` in Vue 3 templates. Types only (the JavaScript module
 * is empty); opt in once per project, for example in `src/env.d.ts` or beside the import that defines
 * the element:
 *
 *     import "async-uploads/client";         // defines <async-file-input>
 *     import type {} from "async-uploads/vue"; // types it in templates
 *
 * It registers the element in Vue's `GlobalComponents` the way Vue's guide does for custom elements
 * not built with Vue ("Non-Vue Web Components and TypeScript"): template checkers (vue-tsc, the Vue
 * language tools) read the props from `$props` and the events from `$emit`. Props are the element's
 * properties; in templates write them in kebab case as usual (`field-id`, `:max-size="5242880"`,
 * `multiple`), listen with `@async-upload-complete="(event) => event.detail.key"`.
 * `$props` and `$emit` exist for the checker only, not on the element.
 *
 * Vue sets an attribute as the element's property when it has one of that name (`name`, `accept`,
 * `multiple`, `value`…) and as an attribute otherwise (`field-id`, `max-size`…); the element reads both.
 * Edit forms: `value` is then the property, the current value (shown without `filename` and `size`);
 * to give the stored file as the HTML attribute does (kept on form reset, with `filename`, `size` and
 * `download-url`), write `:value.attr="storedKey"`.
 *
 * Vite's default `vue()` plugin needs no option for the element: the compiler takes it for a component,
 * finds none and renders the element (in development it warns "Failed to resolve component" unless
 * `template.compilerOptions.isCustomElement` names it).
 */
import type { EmitFn, HTMLAttributes, PublicProps } from "vue";
import type { AsyncFileInput } from "../async-file-input/async-file-input.js";
import type {
  AsyncUploadCompleteEvent,
  AsyncUploadErrorEvent,
  AsyncUploadProcessingEvent,
  AsyncUploadProgressEvent,
  AsyncUploadStartEvent,
} from "../async-file-input/events.js";
import type { AsyncDownloadCentre } from "../download-centre/download-centre.js";
import type { AsyncExportButton } from "../download-centre/export-button.js";
import type { AsyncExportChangeEvent, AsyncExportErrorEvent, AsyncExportServedEvent } from "../download-centre/events.js";

/** The element's properties a template may set. */
export type AsyncFileInputProps = Partial<
  Pick<
    AsyncFileInput,
    | "name"
    | "fieldId"
    | "endpoint"
    | "accept"
    | "maxSize"
    | "multiple"
    | "maxFiles"
    | "required"
    | "disabled"
    | "instanceId"
    | "value"
    | "defaultValue"
    | "filename"
    | "size"
    | "downloadUrl"
    | "storedFiles"
    | "error"
  >
>;

/** The events it dispatches, by name. */
export interface AsyncFileInputEvents {
  "async-upload-start": AsyncUploadStartEvent;
  "async-upload-progress": AsyncUploadProgressEvent;
  "async-upload-complete": AsyncUploadCompleteEvent;
  "async-upload-error": AsyncUploadErrorEvent;
  "async-upload-processing": AsyncUploadProcessingEvent;
}

/** `<async-download-centre>`'s properties and events (`import "async-uploads/download-centre"` defines it). */
export type AsyncDownloadCentreProps = Partial<Pick<AsyncDownloadCentre, "endpoint" | "open" | "pollSeconds">>;
export interface AsyncDownloadCentreEvents {
  "async-export-change": AsyncExportChangeEvent;
  "async-export-error": AsyncExportErrorEvent;
}
/** `<async-export-button>`'s properties and events (a queued export's `async-export-start` is dispatched on `document`). */
export type AsyncExportButtonProps = Partial<Pick<AsyncExportButton, "exportId" | "endpoint" | "criteria" | "disabled">>;
export interface AsyncExportButtonEvents {
  "async-export-served": AsyncExportServedEvent;
  "async-export-error": AsyncExportErrorEvent;
}

declare module "vue" {
  interface GlobalComponents {
    "async-download-centre": new () => AsyncDownloadCentre & {
      /** @deprecated For template type checking only: not a property of the element. */
      $props: HTMLAttributes & AsyncDownloadCentreProps & PublicProps;
      /** @deprecated For template type checking only: not a method of the element. */
      $emit: EmitFn<{ [Name in keyof AsyncDownloadCentreEvents]: (event: AsyncDownloadCentreEvents[Name]) => void }>;
    };
    "async-export-button": new () => AsyncExportButton & {
      /** @deprecated For template type checking only: not a property of the element. */
      $props: HTMLAttributes & AsyncExportButtonProps & PublicProps;
      /** @deprecated For template type checking only: not a method of the element. */
      $emit: EmitFn<{ [Name in keyof AsyncExportButtonEvents]: (event: AsyncExportButtonEvents[Name]) => void }>;
    };
    "async-file-input": new () => AsyncFileInput & {
      /** @deprecated For template type checking only: not a property of the element. */
      $props: HTMLAttributes & AsyncFileInputProps & PublicProps;
      /** @deprecated For template type checking only: not a method of the element. */
      $emit: EmitFn<{ [Name in keyof AsyncFileInputEvents]: (event: AsyncFileInputEvents[Name]) => void }>;
    };
  }
}
