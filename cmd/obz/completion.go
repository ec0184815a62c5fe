package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"
)

// Shell completion: bash and zsh ask obz itself for the words that may
// come next (urfave's --generate-bash-completion: the commands, the
// subcommands, a command's flags after a dash; files otherwise); fish gets
// static completions from the same command definitions.

// bashCompletion runs the words typed so far, never eval'ing them.
const bashCompletion = `# bash completion for obz: source <(obz completion bash)
_obz_complete() {
  local cur="${COMP_WORDS[COMP_CWORD]}" opts
  local words=("${COMP_WORDS[@]:0:COMP_CWORD}")
  if [[ "$cur" == -* ]]; then
    opts=$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${words[@]}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o bashdefault -o default -F _obz_complete obz
`

// zshCompletion follows urfave/cli's autocomplete/zsh_autocomplete.
const zshCompletion = `#compdef obz
# zsh completion for obz: source <(obz completion zsh), or save it as _obz
# in a directory of $fpath
_obz() {
  local -a opts
  local cur=${words[-1]}
  if [[ "$cur" == -* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion 2>/dev/null)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _obz obz
`

func completionCommand(cmdName *string, runErr *error) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: obz completion bash|zsh|fish",
		ArgsUsage: "bash|zsh|fish",
		CustomHelpTemplate: `NAME:
   obz completion - print a shell completion script

USAGE:
   obz completion bash|zsh|fish

DESCRIPTION:
   Completes commands, subcommands and flags (after a dash), and file
   names elsewhere.

EXAMPLES:
   source <(obz completion bash)     # bash: this line in ~/.bashrc
   obz completion zsh > _obz         # zsh: then move _obz to a directory of $fpath
   obz completion fish > obz.fish    # fish: then move it to ~/.config/fish/completions/

EXIT STATUS:
   0    printed
   2    usage error (no shell, or one obz has no script for)
`,
		OnUsageError: onUsageError(cmdName, "completion"),
		Action: func(c *cli.Context) error {
			*cmdName = "completion"
			*runErr = printCompletion(c)
			return nil
		},
	}
}

func printCompletion(c *cli.Context) error {
	if c.NArg() != 1 {
		return &usageError{msg: "completion takes one shell: bash, zsh or fish"}
	}
	switch c.Args().First() {
	case "bash":
		_, err := fmt.Fprint(c.App.Writer, bashCompletion)
		return err
	case "zsh":
		_, err := fmt.Fprint(c.App.Writer, zshCompletion)
		return err
	case "fish":
		s, err := c.App.ToFishCompletion()
		if err != nil {
			return err
		}
		_, err = fmt.Fprint(c.App.Writer, dedupeFish(s))
		return err
	}
	return &usageError{msg: fmt.Sprintf("no completion for %q: bash, zsh or fish", c.Args().First())}
}

func manCommand(cmdName *string, runErr *error) *cli.Command {
	return &cli.Command{
		Name:  "man",
		Usage: "print obz's manual page (roff): obz man | man -l -",
		CustomHelpTemplate: `NAME:
   obz man - print obz's manual page (roff), made from the commands' help

USAGE:
   obz man

EXAMPLES:
   obz man | man -l -
   obz man > obz.1                   # the page docs/obz.1 holds

EXIT STATUS:
   0    printed
   2    usage error
`,
		OnUsageError: onUsageError(cmdName, "man"),
		Action: func(c *cli.Context) error {
			*cmdName = "man"
			if c.NArg() > 0 {
				*runErr = &usageError{msg: "man takes no arguments"}
				return nil
			}
			page, err := manPage(c.App)
			if err == nil {
				_, err = fmt.Fprint(c.App.Writer, page)
			}
			*runErr = err
			return nil
		},
	}
}

// manPage is obz(1): urfave's page (synopsis, every command and its
// flags), each command's text taken from its --help (usage, description,
// examples, exit statuses) so that the two never differ.
func manPage(app *cli.App) (string, error) {
	page := *app
	page.Description = manDescription
	page.Flags = append(append([]cli.Flag{}, app.Flags...), versionFlag)
	page.Commands = manCommands(app.Commands)
	return page.ToManWithSection(1)
}

// manCommands are the commands' sections of the page, without urfave's
// help command: a package variable that urfave mutates as it runs (it
// becomes its own subcommand), and obz help is described at the top.
func manCommands(cmds []*cli.Command) []*cli.Command {
	var out []*cli.Command
	for _, c := range cmds {
		if c.Name == "help" {
			continue
		}
		mc := *c
		mc.UsageText = helpForMan(c.CustomHelpTemplate)
		mc.Subcommands = manCommands(c.Subcommands)
		out = append(out, &mc)
	}
	return out
}

var (
	helpHeading = regexp.MustCompile(`^[A-Z][A-Z ]*:$`)
	escapedOpen = strings.NewReplacer(`{{"{{"}}`, "{{")
)

// helpForMan is a command's help template without its NAME (the page's
// heading says it) and OPTIONS (the page lists the flags) sections.
func helpForMan(tmpl string) string {
	var out []string
	skip := false
	for _, l := range strings.Split(tmpl, "\n") {
		if helpHeading.MatchString(l) {
			skip = l == "NAME:" || l == "OPTIONS:"
		}
		if !skip {
			out = append(out, escapedOpen.Replace(l))
		}
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

const manDescription = `obz runs stream-processing stages for the shell. Each stage reads and writes framed NDJSON: every event carries its writer and sequence number, and every stream ends with an EOF frame holding the count, so each stage checks that nothing was lost and that its upstream did not crash. Bad lines become error events that flow to the sink instead of vanishing. Bare NDJSON is accepted as input; -r writes bare NDJSON for jq. Output is pretty on a terminal, framed into a pipe or file. obz flow runs a topology of stages as supervised processes, journals their output and can replay, verify and resume a run.

Options may come before or after arguments; one-letter options combine as in coreutils (-rn 5, -n5); -- ends the options; - is stdin or stdout. obz --version (-V) prints the version.

Exit status: 0 success; 1 a stage failed or an input broke; 2 usage error or invalid topology; 3 replay or verify refused; 4 finished, but events went to the error lane; 130 interrupted (143 for SIGTERM).

See README.md and docs/ in the source repository: wire.md (the protocol), topology.md (flows), journal.md (journals, replay, resume).`

// dedupeFish drops what urfave/cli's fish script says twice: the help
// command and flag, which it adds once for the app and once more for its
// own default, and the same words in the list of subcommands.
func dedupeFish(script string) string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, line := range strings.SplitAfter(script, "\n") {
		if strings.HasPrefix(line, "complete ") {
			if seen[line] {
				continue
			}
			seen[line] = true
		}
		if i := strings.Index(line, "contains -- $i "); i >= 0 {
			words := strings.Fields(line[i+len("contains -- $i "):])
			had := map[string]bool{}
			var kept []string
			for _, w := range words {
				if !had[w] {
					had[w] = true
					kept = append(kept, w)
				}
			}
			line = line[:i+len("contains -- $i ")] + strings.Join(kept, " ") + "\n"
		}
		b.WriteString(line)
	}
	return b.String()
}
