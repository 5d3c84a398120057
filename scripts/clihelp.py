"""Read the help texts of the rangefetch CLI into a model.

Shared by scripts/gen-man and scripts/gen-completion, so that the manual
pages and the shell completion come from one source: what `rangefetch
--help` and `rangefetch COMMAND --help` print (cli/*.c).  Nothing about
the options is written down here.

The help texts follow one layout, which this module expects and checks:

  Usage: rangefetch COMMAND ARGS...      (more usage lines indented below)

  A paragraph: lines starting in column 0.

  Title of a list:                       (column 0, ends in ':'; may span
    -o, --output FILE   description       lines: "Sources (...): text...:")
        --name[=ARG]    description       option lines start with '-' and
                        continued         are indented at most 8 columns
    TERM                description       other lists: a term, two spaces,
                                          its description
  A paragraph: one line ends in ':'
    an indented example line             (not a list: shown as it is)
  and goes on.

Blocks are separated by blank lines.  An option's argument is one word
after the name (' ARG' or '=ARG', or '[=ARG]' when optional):
  FILE, PATH, OUT, OUTPUT  a file         DIR, DIRECTORY  a directory
  a|b|c (lower case)       one of these words
  URL|FILE, PATH|URL       a file, among others
anything else (N, SEC, SIZE, URL, HOST[:PORT]...) a value of its own.
A text that does not fit raises HelpError naming the line.
"""
import os
import re
import subprocess

PROGRAM = 'rangefetch'

# Metavariables (or alternatives of one: URL|FILE) completed as paths.
FILE_ARGS = {'FILE', 'PATH', 'OUT', 'OUTPUT'}
DIR_ARGS = {'DIR', 'DIRECTORY'}
CHOICE_RE = re.compile(r'^[a-z0-9][a-z0-9_.-]*(\|[a-z0-9][a-z0-9_.-]*)+$')
# An option line: "-o, --output FILE", "--name=ARG", "--name[=ARG]", "-x".
SPEC_RE = re.compile(
    r'^(?:(?P<short>-[A-Za-z0-9?])(?:, (?=--))?)?'
    r'(?P<long>--[A-Za-z0-9][A-Za-z0-9_-]*)?'
    r'(?:(?P<optarg>\[=\S+\])|[ =](?P<arg>\S+))?$')
# Option lines are indented this much at most; deeper lines continue a
# description (which may start with '-': "-1: never fall back").
MAX_OPTION_INDENT = 8


class HelpError(Exception):
    pass


class Option:
    """One option: its names, its argument (None: a flag) and its text."""

    def __init__(self, shorts, longs, arg, arg_optional, desc, section):
        self.shorts, self.longs = shorts, longs
        self.arg, self.arg_optional = arg, arg_optional
        self.desc, self.section = desc, section  # desc: list of lines

    @property
    def names(self):
        return self.shorts + self.longs

    @property
    def takes_value(self):
        """Takes the next word as its value (--name VALUE)."""
        return self.arg is not None and not self.arg_optional

    @property
    def repeatable(self):
        text = ' '.join(self.desc)
        return ('repeatable' in text or
                any(s + s[1:] in text for s in self.shorts))  # "-vv"

    def summary(self, width=72):
        """The description up to its first ';' or sentence end, at most
        width characters (cut at a word, with '...')."""
        text = ' '.join(self.desc)
        m = re.match(r'(.+?)(;|\.\s+(?=[A-Z])|\.$|$)', text)
        text = (m.group(1) if m else text).strip()
        if text.count('(') > text.count(')'):  # "... (no journal; ..."
            text = text[:text.rfind('(')].rstrip()
        if len(text) > width:
            text = text[:width - 3].rsplit(' ', 1)[0].rstrip(',;:') + '...'
        return text


def value_kind(arg):
    """What completes an argument: ('file',), ('dir',), ('words', [...])
    or ('none',)."""
    if arg is None:
        return ('none',)
    if CHOICE_RE.match(arg):
        return ('words', arg.split('|'))
    parts = set(re.split(r'[|\[\],:.]+', arg))
    if parts & DIR_ARGS:
        return ('dir',)
    if parts & FILE_ARGS:
        return ('file',)
    return ('none',)


class Element:
    """A piece of a help text, in order:
      kind 'text'     lines: a paragraph's lines (column 0)
      kind 'example'  lines: indented lines shown as they are
      kind 'options'  title, intro (lines), options
      kind 'list'     title, intro (lines), items: [(term, [desc lines])]
    """

    def __init__(self, kind, lines=None, title=None, intro=None, items=None,
                 options=None, new_paragraph=True):
        self.kind, self.lines, self.title = kind, lines or [], title
        self.intro, self.items = intro or [], items or []
        self.options = options or []
        self.new_paragraph = new_paragraph  # starts a block (after a blank)


class Help:
    """A parsed help text: usage lines and elements."""

    def __init__(self, usage, elements):
        self.usage, self.elements = usage, elements

    @property
    def options(self):
        return [o for e in self.elements if e.kind == 'options'
                for o in e.options]

    def titled(self, title):
        for e in self.elements:
            if e.title is not None and e.title.lower() == title.lower():
                return e
        return None


def indent_of(line):
    return len(line) - len(line.lstrip(' '))


def split_title(head):
    """'Sources (docs/sources.md): the URL is...:' -> ('Sources
    (docs/sources.md)', ['The URL is...:']); 'Options:' -> ('Options', [])."""
    text = ' '.join(head)
    m = re.match(r'^([^:]+?):(?:\s+(.*))?$', text)
    title, rest = m.group(1).strip(), (m.group(2) or '').strip()
    if not rest:
        return title, []
    return title, [rest[0].upper() + rest[1:]]


def parse_spec(spec, where):
    m = SPEC_RE.match(spec)
    if not m or not (m.group('short') or m.group('long')):
        raise HelpError('%s: cannot read the option "%s" (want "-x, --name '
                        'ARG", "--name=ARG" or "--name[=ARG]")' % (where, spec))
    shorts = [m.group('short')] if m.group('short') else []
    longs = [m.group('long')] if m.group('long') else []
    if m.group('optarg'):
        return shorts, longs, m.group('optarg')[2:-1], True
    return shorts, longs, m.group('arg'), False


def parse_options(run, title, where):
    """An indented run of option lines into Options."""
    # The description column: where continuation lines start (most often).
    cols = {}
    for line in run:
        if indent_of(line) > MAX_OPTION_INDENT:
            cols[indent_of(line)] = cols.get(indent_of(line), 0) + 1
    desc_col = max(cols, key=lambda c: (cols[c], -c)) if cols else None
    options = []
    for line in run:
        ind = indent_of(line)
        if ind > MAX_OPTION_INDENT:
            if not options:
                raise HelpError('%s: a description without its option: "%s"'
                                % (where, line.strip()))
            options[-1].desc.append(line.strip())
            continue
        if not line.lstrip().startswith('-'):
            raise HelpError('%s: expected an option line (starting with '
                            '"-"): "%s"' % (where, line.strip()))
        spec, desc = None, None
        # "--proxy-auth SCHEMES any, safe...": one space before a
        # description in its column.
        if (desc_col is not None and len(line) > desc_col and
                line[desc_col - 1] == ' ' and line[desc_col] != ' ' and
                SPEC_RE.match(line[:desc_col].strip())):
            spec, desc = line[:desc_col].strip(), line[desc_col:].strip()
        else:
            m = re.match(r'^\s*(\S+(?: \S+)*?)(?:\s{2,}(\S.*))?$', line)
            spec, desc = m.group(1), m.group(2)
        shorts, longs, arg, optional = parse_spec(spec, where)
        options.append(Option(shorts, longs, arg, optional,
                              [desc] if desc else [], title))
    return options


def parse_list(run, where):
    """An indented run 'TERM  description' into [(term, [lines])]."""
    base = indent_of(run[0])
    items = []
    for line in run:
        if indent_of(line) > base and items:
            items[-1][1].append(line.strip())
            continue
        if indent_of(line) != base:
            raise HelpError('%s: list item indented less than the first: "%s"'
                            % (where, line.strip()))
        m = re.match(r'^\s*(\S+(?: \S+)*?)(?:\s{2,}(\S.*))?$', line)
        items.append((m.group(1), [m.group(2)] if m.group(2) else []))
    return items


def is_list(run):
    """Lines 'TERM  description' (two spaces), or a term whose description
    starts on the next, deeper line."""
    base = indent_of(run[0])
    first = run[0].strip()
    if re.search(r'\S\s{2,}\S', first):
        return True
    return len(run) > 1 and indent_of(run[1]) > base + 4


def parse(text, where):
    """A help text into a Help; where names it in errors."""
    lines = [l.rstrip() for l in text.expandtabs().splitlines()]
    if not lines or not lines[0].startswith('Usage: '):
        raise HelpError('%s: does not start with "Usage: "' % where)
    usage = [lines[0][len('Usage: '):].strip()]
    i = 1
    while i < len(lines) and lines[i].strip() and indent_of(lines[i]) > 0:
        usage.append(lines[i].strip())
        i += 1
    blocks, cur = [], []
    for line in lines[i:] + ['']:
        if line:
            cur.append(line)
        elif cur:
            blocks.append(cur)
            cur = []
    elements = []
    for block in blocks:
        runs = []  # [(indented, lines)]
        for line in block:
            ind = indent_of(line) > 0
            if runs and runs[-1][0] == ind:
                runs[-1][1].append(line)
            else:
                runs.append((ind, [line]))
        first = True
        k = 0
        while k < len(runs):
            ind, run = runs[k]
            nxt = runs[k + 1] if k + 1 < len(runs) else None
            if (not ind and run[-1].endswith(':') and nxt is not None and
                    (nxt[1][0].lstrip().startswith('-') or is_list(nxt[1]))):
                title, intro = split_title(run)
                where_t = '%s, "%s"' % (where, title)
                if nxt[1][0].lstrip().startswith('-'):
                    elements.append(Element(
                        'options', title=title, intro=intro,
                        options=parse_options(nxt[1], title, where_t),
                        new_paragraph=first))
                else:
                    elements.append(Element(
                        'list', title=title, intro=intro,
                        items=parse_list(nxt[1], where_t), new_paragraph=first))
                k += 2
            elif not ind:
                elements.append(Element('text', lines=run, new_paragraph=first))
                k += 1
            else:
                if run[0].lstrip().startswith('-') and first:
                    raise HelpError('%s: options without a title line ("Options:")'
                                    ' before "%s"' % (where, run[0].strip()))
                elements.append(Element('example', lines=run,
                                        new_paragraph=first))
                k += 1
            first = False
    return Help(usage, elements)


class Command:
    """A subcommand: its name, summary and args from the main help, and its
    own parsed help."""

    def __init__(self, name, args, summary, help_):
        self.name, self.args, self.summary, self.help = name, args, summary, help_

    @property
    def operands(self):
        """The usage's words after 'rangefetch NAME', options left out:
        'proxy explain URL [OPTIONS]' -> ['explain', 'URL']."""
        words = self.help.usage[0].split()[2:]
        return [w for w in words if not w.startswith('[') and
                not w.startswith('-') and w != '...']


class Cli:
    def __init__(self, version, main, commands):
        self.version, self.main, self.commands = version, main, commands


def run_help(binary, args):
    env = dict(os.environ)
    env['LC_ALL'] = 'C'
    # A sanitizer build's leak report is the tests' business, not the docs'.
    env['ASAN_OPTIONS'] = (env.get('ASAN_OPTIONS', '') + ':detect_leaks=0').lstrip(':')
    try:
        r = subprocess.run([binary] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, text=True,
                           timeout=60, check=False)
    except OSError as e:
        raise HelpError('cannot run %s: %s' % (binary, e))
    except subprocess.TimeoutExpired:
        raise HelpError('%s %s did not finish in 60 s' % (binary, ' '.join(args)))
    if r.returncode != 0 or not r.stdout.strip():
        raise HelpError('%s %s failed (exit %d): %s' % (
            binary, ' '.join(args), r.returncode, r.stderr.strip()[:500]))
    return r.stdout


def load(binary):
    """Run BINARY --help, --version and COMMAND --help for each command of
    the main help's "Commands:" list; a Cli."""
    main = parse(run_help(binary, ['--help']), '%s --help' % PROGRAM)
    version = run_help(binary, ['--version']).splitlines()[0].strip()
    cmds = main.titled('Commands')
    if cmds is None or cmds.kind != 'list':
        raise HelpError('%s --help: no "Commands:" list' % PROGRAM)
    commands = []
    for term, desc in cmds.items:
        words = term.split()
        name = words[0]
        if not re.match(r'^[a-z][a-z0-9-]*$', name):
            raise HelpError('%s --help, "Commands": "%s" is not a command name'
                            % (PROGRAM, name))
        where = '%s %s --help' % (PROGRAM, name)
        h = parse(run_help(binary, [name, '--help']), where)
        if h.usage[0].split()[:2] != [PROGRAM, name]:
            raise HelpError('%s: usage "%s" does not start with "%s %s"'
                            % (where, h.usage[0], PROGRAM, name))
        seen = set()
        for o in h.options:
            for n in o.names:
                if n in seen:
                    raise HelpError('%s: option %s listed twice' % (where, n))
                seen.add(n)
        commands.append(Command(name, ' '.join(words[1:]), ' '.join(desc), h))
    return Cli(version, main, commands)
