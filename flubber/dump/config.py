"""The INI configuration of the dump: :class:`DumpConstants` and :class:`DumpConfiguration`.

::

    [dump]
    timeout = 5                  ; the silence timeout, seconds
    dmesg = dmesg -k             ; identifier = command, one per dump
    meminfo = cat /proc/meminfo

    [device]                     ; optional: where the commands run
    kind = local                 ; local (default), tcp or serial
    prefix = ssh lab-pc

    [dump_options]               ; optional
    deadline = 60                ; overall limit per dump, seconds
    output_dir = dumps           ; folder of the files
    timestamp = yes              ; add the start time to each file name

Every option of ``[dump]`` except ``timeout`` is a dump; a file without a
``[dump]`` section configures no dumps. A section whose name is close to
one of these three is a misspelling and an error (``[dmp]``: "did you mean
'dump'?"); any other section belongs to another program sharing the file
and is left alone.
"""
import configparser
import os
import textwrap

from flubber.dump._exceptions import DumpConfigurationError
from flubber._config import positive_seconds, suggest
from flubber.dump._protocol import check_identifier
from flubber.dump.devices import make_device, parse_bool
from flubber.dump.thedump import TheDump

__all__ = ["DumpConstants", "DumpConfiguration"]


class DumpConstants(object):
    """
    Constants for the Dump
    """
    __slots__ = ()
    # defaults
    #: Default silence timeout, seconds.
    default_timeout = 5
    #: Kept from the original constants (not used by flubber).
    default_delimiter = ','
    #: Default folder of the output files.
    default_output_dir = '.'

    # configuration
    #: Section of the dumps.
    section = 'dump'
    #: Optional section choosing the device.
    device_section = 'device'
    #: Optional section of the settings that are not commands.
    options_section = 'dump_options'

    # options
    #: Option of :attr:`section`: the silence timeout.
    timeout = 'timeout'
    #: Option of :attr:`device_section`: the device kind.
    kind = 'kind'
    #: Options of :attr:`options_section`.
    deadline = 'deadline'
    output_dir = 'output_dir'
    timestamp = 'timestamp'

    #: A commented example configuration.
    example = textwrap.dedent("""
    #[{s}]
    # the dump takes commands that dump their output and saves
    # the output to files. It is mainly intended as a log dump
    # comment this section out if you don't want a dump

    # timeout is how long to wait for output
    # timeout = {time}

    # for the commands you should use the form:
    # <identifier_1> = <command_1>
    # <identifier_2> = <command_2>
    # ...
    # <identifier_n> = <command_n>

    # the identifiers can be anything as long as each is unique
    # the command should be the actual string you want to send to the
    # device
    # as an example for 'dmesg':
    # dump = dmesg -k

    #[{d}]
    # where the commands run (leave it out to run them locally)
    # kind = local, tcp or serial
    # kind = local
    # prefix = ssh lab-pc
    # kind = tcp
    # host = 192.168.1.20
    # port = 23
    # prompt = \\$ $
    # kind = serial
    # url = /dev/ttyUSB0
    # baudrate = 115200

    #[{o}]
    # deadline = 60
    # output_dir = {out}
    # timestamp = no
        """.format(s=section, d=device_section, o=options_section,
                   time=default_timeout, out=default_output_dir))

# end DumpConstants


class DumpConfiguration:
    """The dumps an INI file describes, checked when the file is read.

    :param filename: path of the INI file.
    :raises DumpConfigurationError: when the file cannot be read, a section
        name is a misspelling of ``dump``, ``device`` or ``dump_options``,
        or a value is wrong; the message names the file, section and option.

    >>> config = DumpConfiguration.from_string("[dump]\\ntimeout = 2\\ndmesg = dmesg -k\\n")
    >>> config.timeout, config.commands
    (2.0, {'dmesg': 'dmesg -k'})
    """

    def __init__(self, filename):
        parser = self._new_parser()
        try:
            with open(filename, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise DumpConfigurationError("cannot read the dump configuration %s: %s" % (
                filename, exc.strerror or exc)) from exc
        except UnicodeDecodeError as exc:
            raise DumpConfigurationError("%s: not a UTF-8 text file (%s)" % (filename, exc)) from exc
        self._load(parser, text, str(filename))

    @classmethod
    def from_string(cls, text, filename="<string>"):
        """Read the configuration from *text*; *filename* names it in error messages."""
        self = cls.__new__(cls)
        self._load(cls._new_parser(), text, filename)
        return self

    @staticmethod
    def _new_parser():
        parser = configparser.ConfigParser(interpolation=None, default_section="__flubber_no_defaults__")
        parser.optionxform = str  # identifiers keep their case
        return parser

    def _error(self, message, section=None, option=None):
        where = self.filename
        if section is not None:
            where += ": [%s]" % section
            if option is not None:
                where += " %s" % option
        return DumpConfigurationError("%s: %s" % (where, message))

    def _load(self, parser, text, filename):
        #: The file the configuration came from.
        self.filename = filename
        try:
            parser.read_string(text, source=filename)
        except configparser.Error as exc:
            raise DumpConfigurationError("%s: not a valid INI file: %s" % (
                filename, str(exc).replace("\n", " "))) from exc
        constants = DumpConstants
        known = (constants.section, constants.device_section, constants.options_section)
        #: The sections of the file, in file order (others than the dump's belong to other programs).
        self.sections = parser.sections()
        for section in self.sections:
            hint = suggest(section, known) if section not in known else ""
            if hint:  # a misspelling; a name close to none of them is another program's section
                raise self._error("unknown section%s; a dump file has the sections %s" % (
                    hint, ", ".join("[%s]" % name for name in known)), section)
        #: The silence timeout, seconds.
        self.timeout = float(constants.default_timeout)
        #: The dumps, ``{identifier: command}`` in file order (empty without a [dump] section).
        self.commands = {}
        if parser.has_section(constants.section):
            for option, value in parser.items(constants.section):
                if option.lower() == constants.timeout:
                    self.timeout = self._seconds(value, constants.section, option)
                    continue
                try:
                    check_identifier(option)
                except ValueError as exc:
                    raise self._error(str(exc), constants.section, option) from None
                if not value.strip():
                    raise self._error("the command is empty; write '%s = <command>'" % option,
                                      constants.section, option)
                self.commands[option] = value.strip()
        self._load_device(parser)
        self._load_options(parser)

    def _seconds(self, value, section, option):
        try:
            return positive_seconds(value, parse_text=True)
        except ValueError as exc:
            raise self._error(str(exc), section, option) from None

    def _load_device(self, parser):
        section = DumpConstants.device_section
        #: The ``[device]`` options as written (``{}`` when the section is absent).
        self.device_options = dict(parser.items(section)) if parser.has_section(section) else {}
        try:
            #: The :class:`~flubber.dump.Device` the commands run on.
            self.device = make_device(self.device_options)
        except ValueError as exc:
            raise self._error(str(exc), section) from None  # an unknown kind's message lists the kinds

    def _load_options(self, parser):
        constants = DumpConstants
        section = constants.options_section
        #: Overall limit per dump in seconds, or ``None``.
        self.deadline = None
        #: Folder of the output files.
        self.output_dir = constants.default_output_dir
        #: Whether file names get a timestamp.
        self.timestamp = False
        if not parser.has_section(section):
            return
        for option, value in parser.items(section):
            name = option.lower()
            if name == constants.deadline:
                self.deadline = self._seconds(value, section, option)
            elif name == constants.output_dir:
                if not value.strip():
                    raise self._error("must name a folder", section, option)
                self.output_dir = value.strip()
            elif name == constants.timestamp:
                try:
                    self.timestamp = parse_bool(value)
                except ValueError as exc:
                    raise self._error(str(exc), section, option) from None
            else:
                raise self._error("unknown option; known options: %s, %s, %s" % (
                    constants.deadline, constants.output_dir, constants.timestamp), section, option)

    def dumps(self, output_dir=None, timestamp=None, deadline=None, timeout=None):
        """Return a :class:`~flubber.dump.TheDump` for every command, all on :attr:`device`.

        The arguments override the file's settings when not ``None``.
        """
        folder = output_dir if output_dir is not None else self.output_dir
        return [
            TheDump(command, self.device, identifier=identifier,
                    timeout=self.timeout if timeout is None else timeout,
                    deadline=self.deadline if deadline is None else deadline,
                    output_dir=os.path.expanduser(folder),
                    timestamp=self.timestamp if timestamp is None else timestamp)
            for identifier, command in self.commands.items()
        ]

    def __repr__(self):
        return "<DumpConfiguration %s: %d dumps on %r>" % (self.filename, len(self.commands), self.device)
