import type { Command } from "commander";

/**
 * A parent command shared by several command files (`loopwise eval sessions`, `loopwise eval cb`):
 * returns the existing one or creates it, so each file registers only its own subcommand.
 */
export function commandGroup(program: Command, name: string, description: string): Command {
  const existing = program.commands.find((c) => c.name() === name);
  return existing ?? program.command(name).description(description);
}
