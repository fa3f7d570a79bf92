export { OPTIONS, type EmulatorOptions, type EndpointDeclaration, type OptionKey, type OptionRow, type Scope, type Settings, envName, flagName, optionRow, optionRows } from "./options/schema.js";
export { type ResolveContext, resolveOptions } from "./options/resolve-options.js";
