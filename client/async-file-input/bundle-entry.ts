/**
 * The entry of the browser bundles (`dist/browser/async-file-input*.js`): the public module, plus what
 * the file list's chunk (`file-list.ts`, loaded with the first file) takes from the element's file
 * rather than carrying a second copy. Its imports of these name the element's file itself
 * (`../async-file-input.js`, see `shareWithElement` in client/build.ts): one Lit, one set of strings
 * (`setStrings` reaches the rows), one class per event. Not part of the package's typed API.
 */
export * from "../index.js";
export { addDefaultStrings, strings } from "./strings.js";
export { adoptStyles, css, html, noChange, nothing, svg, _$LH } from "lit";
