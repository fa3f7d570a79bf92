import { type OptionKey, type OptionRow, flagName, optionRow, optionRows } from "./schema.js";

/** Help and the README list the options in these groups: by scope, and the fine-tuning apart. */
const GROUPS: { title: string; has: (row: OptionRow) => boolean }[] = [
  { title: "Server options", has: (row) => row.scope === "server" && !row.tuning },
  { title: "Endpoint options", has: (row) => row.scope === "endpoint" && !row.tuning },
  { title: "Fine-tuning, mostly for tests", has: (row) => row.tuning === true },
];

/** An option's default as help and the README say it: in its kind's words (5s, 10m), or the row's text. */
export function defaultText(key: OptionKey): string {
  const row = optionRow(key);
  if (row.default === undefined) return row.defaultText ?? "none";
  const value = row.kind.parse(row.default);
  return typeof value === "boolean" ? (value ? "on" : "off") : row.kind.show(value);
}

/** The flag with its value's placeholder: `--idle-timeout SECONDS`, `--no-watch`. */
export function flagUsage(key: OptionKey): string | undefined {
  const row = optionRow(key);
  const flag = flagName(key);
  if (flag === undefined || row.codeOnly) return undefined;
  const arg = row.arg ?? row.kind.arg;
  if (arg && row.kind.optionalValue) return `--${flag}[=${arg}]`;
  return arg ? `--${flag} ${arg}` : `--${flag}`;
}

/** The options of `--help`, in groups, one line each. */
export function optionHelp(): string {
  const sections = GROUPS.map((group) => {
    const lines = optionRows()
      .filter(([key, row]) => group.has(row) && flagUsage(key))
      .map(([key, row]) => {
        const usage = flagUsage(key) as string;
        const text = row.kind.arg || row.default === undefined ? `${row.help} (default ${defaultText(key)})` : row.help;
        return `  ${usage.length < 30 ? usage.padEnd(30) : `${usage} `} ${text}`;
      });
    return `${group.title}:\n${lines.join("\n")}`;
  });
  return sections.join("\n\n");
}

/** The README's option tables: every option with its flag, key (of createEmulator() and the config file) and default. */
export function optionTable(): string {
  const tables = GROUPS.map((group) => {
    const rows = optionRows()
      .filter(([, row]) => group.has(row))
      .map(([key, row]) => {
        const flag = flagUsage(key);
        const note = row.inEntries
          ? " (createEmulator(), or an entry of the config file's endpoints)"
          : row.codeOnly
            ? " (createEmulator() only)"
            : row.noFlag
              ? " (createEmulator() and the config file)"
              : row.commandLineOnly
                ? " (command line only)"
                : "";
        const cells = [flag ? `\`${flag}\`` : row.flag === false ? "`HANDLER` (argument)" : "", `\`${key}\``, defaultText(key), `${row.help}${note}`];
        // A table cell ends at a pipe, even inside a code span.
        return `| ${cells.map((cell) => cell.replace(/\|/g, "\\|")).join(" | ")} |`;
      });
    return [`**${group.title}**`, "", "| flag | key | default | |", "|---|---|---|---|", ...rows].join("\n");
  });
  return tables.join("\n\n");
}
