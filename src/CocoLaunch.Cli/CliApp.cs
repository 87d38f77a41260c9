using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using CocoLaunch.Cli.Verbs;
using CocoLaunch.Formats;
using CocoLaunch.Spec;
using CommandLine;
using CommandLine.Text;

namespace CocoLaunch.Cli;

/// <summary>Parses arguments, runs one verb, and turns every failure into one line and an exit code.</summary>
public static class CliApp
{
    public const string Name = "cocolaunch";

    public static string Version =>
        typeof(CliApp).Assembly.GetName().Version is { } v ? $"{v.Major}.{v.Minor}.{v.Build}" : "0.0.0";

    private const string VerbList = "validate, inspect, measure, diff, launch, bench, id-block, boot, reference-values, verify, attest, verify-evidence, eventlog, igvm";

    // CommandLineParser reads the --stop-after help from StopAfterHelp.Text by reflection (ResourceType): kept under trimming.
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicProperties, typeof(StopAfterHelp))]
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        // The Linux TD and SNP firmware ship beside the tool (samples/linux-tdx/bin, samples/linux-snp/bin, copied by the project).
        Spec.DefaultFirmware.LinuxTdPath ??= Path.Combine(AppContext.BaseDirectory, "firmware", "linux-tdx.fd");
        Spec.DefaultFirmware.LinuxSnpPath ??= Path.Combine(AppContext.BaseDirectory, "firmware", "linux-snp.fd");
        // "help VERB" is answered like "VERB --help", which CommandLineParser renders with the verb's options.
        if (args is ["help", var verb, ..] && !verb.StartsWith('-'))
        {
            return Run([verb, "--help"], stdout, stderr);
        }

        if (OptionWithoutValue(args) is { } bare)
        {
            Error(stderr, $"option {bare} needs a value (see '{Name} {args[0]} --help')");
            return ExitCode.InputError;
        }

        if (ExtraArgument(args) is { } extra)
        {
            Error(stderr, $"unexpected argument '{extra}' (see '{Name} {args[0]} --help')");
            return ExitCode.InputError;
        }

        using var parser = new Parser(s =>
        {
            s.HelpWriter = null;
            s.CaseInsensitiveEnumValues = true;
            s.AutoHelp = true;
            s.AutoVersion = true;
        });

        var result = parser.ParseArguments<ValidateOptions, InspectOptions, MeasureOptions, DiffOptions, LaunchOptions, BenchOptions, IdBlockOptions, BootOptions, ReferenceValuesOptions, VerifyOptions, AttestOptions, VerifyEvidenceOptions, EventLogOptions, IgvmOptions>(args);
        bool verbose = args.Contains("--verbose");
        return result.MapResult(
            (ValidateOptions o) => Guarded(() => ValidateVerb.Run(o, stdout), stderr, verbose),
            (InspectOptions o) => Guarded(() => InspectVerb.Run(o, stdout, stderr), stderr, verbose),
            (MeasureOptions o) => Guarded(() => MeasureVerb.Run(o, stdout, stderr), stderr, verbose),
            (DiffOptions o) => Guarded(() => DiffVerb.Run(o, stdout), stderr, verbose),
            (LaunchOptions o) => Guarded(() => LaunchVerb.Run(o, stdout, stderr), stderr, verbose),
            (BenchOptions o) => Guarded(() => BenchVerb.Run(o, stdout), stderr, verbose),
            (IdBlockOptions o) => Guarded(() => IdBlockVerb.Run(o, stdout), stderr, verbose),
            (BootOptions o) => Guarded(() => BootVerb.Run(o, stdout, stderr), stderr, verbose),
            (ReferenceValuesOptions o) => Guarded(() => ReferenceValuesVerb.Run(o, stdout), stderr, verbose),
            (VerifyOptions o) => Guarded(() => VerifyVerb.Run(o, stdout, stderr), stderr, verbose),
            (AttestOptions o) => Guarded(() => AttestVerb.Run(o, stdout), stderr, verbose),
            (VerifyEvidenceOptions o) => Guarded(() => VerifyEvidenceVerb.Run(o, stdout), stderr, verbose),
            (EventLogOptions o) => Guarded(() => EventLogVerb.Run(o, stdout), stderr, verbose),
            (IgvmOptions o) => Guarded(() => IgvmVerb.Run(o, stdout), stderr, verbose),
            errors => ReportParseErrors(args, result, errors.ToList(), stdout, stderr));
    }

    /// <summary>Writes one error line, through <see cref="ErrorText.Sanitize"/>: the only way the CLI reports a failure.</summary>
    public static void Error(TextWriter stderr, string message) => stderr.WriteLine($"{Name}: {ErrorText.Sanitize(message)}");

    /// <summary>Runs a verb and turns its failure into one error line and the exit code (SpecBatch runs it per spec).</summary>
    internal static int Guarded(Func<int> verb, TextWriter stderr, bool verbose)
    {
        try
        {
            return verb();
        }
        catch (Exception e) when (InputProblem(e) is { } message)
        {
            Error(stderr, message);
            if (verbose)
            {
                stderr.WriteLine(e);
            }

            return ExitCode.InputError;
        }
        catch (Exception e)
        {
            Error(stderr, $"internal error: {e.GetType().Name}: {e.Message} (run with --verbose for details, and please report it)");
            if (verbose)
            {
                stderr.WriteLine(e);
            }

            return ExitCode.InternalError;
        }
    }

    private static string? InputProblem(Exception e) => e switch
    {
        SpecException or FirmwareFileException or CliInputException or Attestation.EvidenceFormatException => e.Message,
        IOException or UnauthorizedAccessException => e.Message,
        _ => null,
    };

    private static readonly (Type Type, Func<PropertyInfo[]> Properties)[] Verbs = [Verb<ValidateOptions>(), Verb<InspectOptions>(), Verb<MeasureOptions>(), Verb<DiffOptions>(), Verb<LaunchOptions>(), Verb<BenchOptions>(), Verb<IdBlockOptions>(), Verb<BootOptions>(), Verb<ReferenceValuesOptions>(), Verb<VerifyOptions>(), Verb<AttestOptions>(), Verb<VerifyEvidenceOptions>(), Verb<EventLogOptions>(), Verb<IgvmOptions>()];

    // Through a generic parameter annotated for trimming: CommandLineParser makes each verb's options by reflection (their
    // constructor, properties, setters and attributes, inherited ones too), and so do the checks below, so under
    // NativeAOT every options type listed here is kept whole. A verb missing here would lose its setters.
    private static (Type, Func<PropertyInfo[]>) Verb<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.All)] T>() => (typeof(T), PropertiesOf<T>);

    private static PropertyInfo[] PropertiesOf<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] T>() => typeof(T).GetProperties();

    /// <summary>The properties of the options of the verb <paramref name="args"/> names; null for no verb or an unknown one.</summary>
    private static PropertyInfo[]? VerbProperties(string[] args) => args.Length == 0
        ? null
        : Verbs.FirstOrDefault(v => v.Type.GetCustomAttributes(typeof(VerbAttribute), false) is [VerbAttribute a] && a.Name == args[0]).Properties?.Invoke();

    /// <summary>
    /// A value-taking option given last, or followed by another option, or as "--option=" with nothing after the "=":
    /// CommandLineParser then keeps the default silently (`boot x.bin --memory` booted with 128M), so the check is made
    /// here, before it parses.
    /// </summary>
    private static string? OptionWithoutValue(string[] args)
    {
        if (VerbProperties(args) is not { } properties)
        {
            return null;
        }

        var valued = properties
            .Where(p => p.PropertyType != typeof(bool))
            .SelectMany(p => p.GetCustomAttributes(typeof(OptionAttribute), false).Cast<OptionAttribute>())
            .Select(a => "--" + a.LongName)
            .ToHashSet(StringComparer.Ordinal);
        for (int i = 1; i < args.Length; i++)
        {
            if (args[i] == "--")
            {
                break;
            }

            if (valued.Contains(args[i]) && (i + 1 == args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal)))
            {
                return args[i];
            }

            // "--memory=" is the same mistake written the other way (CommandLineParser called it an unknown argument).
            if (args[i].EndsWith('=') && valued.Contains(args[i][..^1]))
            {
                return args[i][..^1];
            }
        }

        return null;
    }

    /// <summary>
    /// A positional argument beyond the verb's last one: CommandLineParser drops it silently, so `validate a.yaml
    /// b.yaml` checked a.yaml alone and exited 0. Verbs that take a list of values (reference-values) have no last one.
    /// </summary>
    private static string? ExtraArgument(string[] args)
    {
        if (VerbProperties(args) is not { } properties)
        {
            return null;
        }

        static bool IsList(Type t) => t != typeof(string) && typeof(System.Collections.IEnumerable).IsAssignableFrom(t);
        var values = properties.Where(p => p.GetCustomAttributes(typeof(ValueAttribute), false).Length > 0).ToList();
        if (values.Any(p => IsList(p.PropertyType)))
        {
            return null;
        }

        var options = properties
            .SelectMany(p => p.GetCustomAttributes(typeof(OptionAttribute), false).Cast<OptionAttribute>().Select(a => (Option: a, p.PropertyType)))
            .SelectMany(o => new[] { ("--" + o.Option.LongName, o.PropertyType), ("-" + o.Option.ShortName, o.PropertyType) })
            .Where(o => o.Item1.Length > 2 || o.Item1 is ['-', not '-'])
            .GroupBy(o => o.Item1, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First().PropertyType, StringComparer.Ordinal);
        int positional = 0;
        bool rest = false;
        for (int i = 1; i < args.Length; i++)
        {
            string a = args[i];
            if (!rest && a == "--")
            {
                rest = true;
                continue;
            }

            if (!rest && a.Length > 1 && a[0] == '-')
            {
                if (options.TryGetValue(a, out var type) && type != typeof(bool))
                {
                    // A list option takes every value up to the next option, as CommandLineParser reads it.
                    do
                    {
                        i++;
                    }
                    while (IsList(type) && i + 1 < args.Length && !args[i + 1].StartsWith('-'));
                }

                continue;
            }

            if (++positional > values.Count)
            {
                return a;
            }
        }

        return null;
    }

    private static int ReportParseErrors(string[] args, ParserResult<object> result, List<Error> errors, TextWriter stdout, TextWriter stderr)
    {
        if (errors.Any(e => e is VersionRequestedError))
        {
            stdout.WriteLine($"{Name} {Version}");
            return ExitCode.Ok;
        }

        if (errors.Any(e => e is HelpRequestedError or HelpVerbRequestedError))
        {
            bool verbsIndex = errors.Any(e => e is HelpVerbRequestedError { Matched: false } or HelpRequestedError) && result.TypeInfo.Current == typeof(NullInstance);
            var verb = verbsIndex ? null : VerbUsage(result.TypeInfo.Current);
            stdout.WriteLine(HelpText.AutoBuild(result, h =>
            {
                h.Heading = $"{Name} {Version}";
                h.Copyright = "Launch-measurement emulation for Intel TDX and AMD SEV-SNP guests.";
                if (verb is { } v)
                {
                    h.AddPreOptionsLine(string.Empty);
                    h.AddPreOptionsLine($"Usage: {v.Usage}");
                    h.AddPreOptionsLine(v.Description);
                }

                h.AddPostOptionsLine(ExitCodesLine);
                return h;
            }, e => e, verbsIndex: verbsIndex));
            return ExitCode.Ok;
        }

        string verbName = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : string.Empty;
        string helpHint = verbName.Length > 0 && errors[0] is not BadVerbSelectedError ? $"{Name} {verbName} --help" : $"{Name} --help";
        Error(stderr, $"{Describe(errors[0])} (see '{helpHint}')");
        return ExitCode.InputError;
    }

    /// <summary>The exit-code contract every verb follows (ExitCode), as the help's footer states it.</summary>
    internal const string ExitCodesLine = "Exit codes: 0 ok, 1 a check failed, 2 input or usage error, 3 internal error (a bug: please report it).";

    /// <summary>
    /// A verb's usage line (its name, [OPTIONS], then its positional arguments, optional ones in brackets and lists
    /// with "...") and the first sentence of its description; null for a type that is not a verb.
    /// </summary>
    private static (string Usage, string Description)? VerbUsage(Type options)
    {
        var entry = Verbs.FirstOrDefault(v => v.Type == options);
        if (entry.Type is null || options.GetCustomAttributes(typeof(VerbAttribute), false) is not [VerbAttribute verb])
        {
            return null;
        }

        var values = entry.Properties()
            .Select(p => (Property: p, Value: p.GetCustomAttributes(typeof(ValueAttribute), true).OfType<ValueAttribute>().FirstOrDefault()))
            .Where(p => p.Value is not null)
            .OrderBy(p => p.Value!.Index)
            .Select(p =>
            {
                bool list = p.Property.PropertyType != typeof(string) && typeof(System.Collections.IEnumerable).IsAssignableFrom(p.Property.PropertyType);
                string name = (p.Value!.MetaName ?? p.Property.Name).ToUpperInvariant() + (list ? "..." : string.Empty);
                return p.Value.Required ? name : $"[{name}]";
            });
        string text = verb.HelpText ?? string.Empty;
        int end = text.IndexOf(". ", StringComparison.Ordinal);
        return ($"{Name} {verb.Name} [OPTIONS]{string.Concat(values.Select(v => " " + v))}", end < 0 ? text : text[..(end + 1)]);
    }

    private static string Describe(Error error) => error switch
    {
        NoVerbSelectedError => $"no verb given; use one of: {VerbList}",
        BadVerbSelectedError b => $"unknown verb '{b.Token}'; use one of: {VerbList}",
        UnknownOptionError u => $"unknown option '{(u.Token.Length == 1 ? "-" : "--")}{u.Token}'",
        MissingRequiredOptionError m when m.NameInfo.NameText.Length == 0 => "a required argument is missing",
        MissingRequiredOptionError m => $"missing required option {Option(m.NameInfo)}",
        MissingValueOptionError m => $"option {Option(m.NameInfo)} needs a value",
        BadFormatConversionError b => $"bad value for {Option(b.NameInfo)}",
        RepeatedOptionError r => $"option {Option(r.NameInfo)} given more than once",
        SequenceOutOfRangeError s => $"wrong number of values for {Option(s.NameInfo)}",
        TokenError t => $"unexpected argument '{t.Token}'",
        NamedError n => $"bad option {Option(n.NameInfo)}",
        _ => $"invalid arguments ({error.Tag})",
    };

    private static string Option(NameInfo name) => name.LongName.Length > 0 ? "--" + name.LongName : "-" + name.ShortName;
}
