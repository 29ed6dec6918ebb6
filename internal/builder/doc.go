// Package builder is the logic behind `conveyor build`, `conveyor stage new`
// and `conveyor stage add`: it asks for a stage's function, id, inputs and
// parameters, checks every answer against the stage's spec with the same
// checks the validator uses (flow.CheckConfig), and renders the TOML
// [[stages]] block or a whole starter pipeline.
//
// Every question goes through the Prompter interface, so the logic runs
// without a terminal: tests drive it with scripted answers, LinePrompter asks
// line by line on plain streams (pipes, screen readers), and Terminal asks
// with interactive huh forms.
package builder
