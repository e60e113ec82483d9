import { LitElement, type PropertyDeclarations } from "lit";

/**
 * A form-associated Lit element that behaves like a native input, as webawesome's form-associated base
 * does: the native-input API (`form`, `labels`, `validity`, …) answered by its ElementInternals, `disabled`
 * also through a disabled `<fieldset>`, and a submit guard. Subclasses hand the form their value and
 * validity through `internals`.
 */
export class FormControl extends LitElement {
  static formAssociated = true;
  static override properties: PropertyDeclarations = {
    disabled: { type: Boolean, reflect: true },
    formDisabled: { state: true },
  };

  disabled = false;
  /** Inside a disabled `<fieldset>` (or form-associated ancestor). */
  protected formDisabled = false;
  /** The element's ElementInternals: `setFormValue` and `setValidity` go through it. */
  protected readonly internals = this.attachInternals();
  #form: HTMLFormElement | null = null;

  /** Disabled by its attribute or by a disabled `<fieldset>`. */
  protected get isDisabled(): boolean {
    return this.disabled || this.formDisabled;
  }

  get form(): HTMLFormElement | null {
    return this.internals.form;
  }
  get labels(): NodeList {
    return this.internals.labels;
  }
  get validity(): ValidityState {
    return this.internals.validity;
  }
  get validationMessage(): string {
    return this.internals.validationMessage;
  }
  get willValidate(): boolean {
    return this.internals.willValidate;
  }
  checkValidity(): boolean {
    return this.internals.checkValidity();
  }
  reportValidity(): boolean {
    return this.internals.reportValidity();
  }

  formAssociatedCallback(form: HTMLFormElement | null): void {
    this.#form?.removeEventListener("submit", this.#guardSubmit, true);
    this.#form = form;
    form?.addEventListener("submit", this.#guardSubmit, true);
  }

  formDisabledCallback(disabled: boolean): void {
    this.formDisabled = disabled;
  }

  /**
   * Forms with `novalidate` skip validity checks; they still must not submit a control whose custom error
   * says its value is not ready (an upload running or failed). A missing value is the form's own business.
   */
  #guardSubmit = (event: SubmitEvent) => {
    if (this.isDisabled || this.validity.valid || this.validity.valueMissing) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    this.reportValidity();
  };
}
