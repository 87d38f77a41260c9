using System.Text.RegularExpressions;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// The conventions a user relies on across verbs (issue 21 item 6): a missing value or an extra argument is exit 2, one
/// name for the output format, defaults and platforms written as users type them, and --stop-after's help listing the
/// steps each launch really runs.
/// </summary>
public sealed class CliConventionsTests
{
    public static TheoryData<string> Verbs => new(["validate", "inspect", "measure", "diff", "launch", "bench", "id-block", "boot", "reference-values", "verify", "attest", "verify-evidence", "eventlog", "igvm"]);

    private static readonly string TdxSpec = RepoPaths.LaunchSpec("tdx.yaml");

    /// <summary>The long options a verb's --help lists (what users see), without the three every verb has.</summary>
    internal static List<string> HelpOptions(string verb) =>
        [.. Regex.Matches(CliRunner.Run(verb, "--help").Stdout, @"^  (--[a-z0-9-]+)", RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value)
            .Where(o => o is not ("--help" or "--version" or "--verbose"))];

    [Theory]
    [InlineData("measure", "launch-specs/tdx.yaml", "--format")]
    [InlineData("measure", "launch-specs/tdx.yaml", "--output-format", "--explain")]
    [InlineData("inspect", "x.fd", "--format")]
    [InlineData("verify-evidence", "e.bin", "--root")]
    [InlineData("launch", "launch-specs/tdx.yaml", "--stop-after")]
    [InlineData("id-block", "--measurement")]
    [InlineData("reference-values", "launch-specs/tdx.yaml", "--out", "--no-log")]
    [InlineData("boot", "x.bin", "--memory=")] // the "=" form with nothing after it
    [InlineData("verify", "launch-specs/tdx.yaml", "--expected=")]
    public void OptionWithoutItsValue_ExitsTwoNamingIt(params string[] args)
    {
        string option = args.First(a => a.StartsWith("--", StringComparison.Ordinal)).TrimEnd('=');
        var result = CliRunner.Run(args);
        Assert.Equal((2, $"cocolaunch: option {option} needs a value (see 'cocolaunch {args[0]} --help')"), (result.Exit, result.ErrorLine));
        Assert.Equal(string.Empty, result.Stdout);
    }

    [Theory]
    [InlineData("inspect", "a.fd", "b.fd")]
    [InlineData("eventlog", "a.bin", "b.bin")]
    [InlineData("launch", "a.yaml", "b.yaml")]
    [InlineData("attest", "a.yaml", "b.yaml", "--out", "d")]
    [InlineData("boot", "a.bin", "--memory", "8M", "b.bin")]
    [InlineData("igvm", "build", "a.yaml", "b.yaml", "--out", "x.igvm")]
    public void ExtraPositionalArgument_ExitsTwoNamingIt(params string[] args)
    {
        string extra = args[0] switch { "igvm" => args[3], "attest" => args[2], "boot" => args[4], _ => args[2] };
        var result = CliRunner.Run(args);
        Assert.Equal((2, $"cocolaunch: unexpected argument '{extra}' (see 'cocolaunch {args[0]} --help')"), (result.Exit, result.ErrorLine));
    }

    /// <summary>
    /// The output format is `--format` wherever a verb has one; `measure` also keeps sev-snp-measure's `--output-format`,
    /// so a pipeline switches tools by changing only the program name.
    /// </summary>
    [Theory]
    [MemberData(nameof(Verbs))]
    public void OutputFormatOption_HasOneName(string verb)
    {
        var formats = HelpOptions(verb).Where(o => o.EndsWith("format", StringComparison.Ordinal)).ToList();
        Assert.Subset(new HashSet<string>(["--format"]), formats.Except(verb == "measure" ? ["--output-format"] : []).ToHashSet());
    }

    [Fact]
    public void Measure_FormatAndOutputFormat_AreOneOption()
    {
        var format = CliRunner.Run("measure", TdxSpec, "--format", "json");
        var outputFormat = CliRunner.Run("measure", TdxSpec, "--output-format", "json");
        Assert.Equal((0, format.Stdout), (outputFormat.Exit, outputFormat.Stdout));
        Assert.Contains($"\"mrtd\": \"{MeasureTests.PublicMrtd}\"", format.Stdout, StringComparison.Ordinal);

        var both = CliRunner.Run("measure", TdxSpec, "--format", "json", "--output-format", "hex");
        Assert.Equal((2, "cocolaunch: --format json and --output-format hex disagree (they are one option under two names)"), (both.Exit, both.ErrorLine));
    }

    /// <summary>
    /// Defaults appear as users type them (`in-place`, `64G`, `console=ttyS0`), never a C# enum member such as `Text` or
    /// `InPlace` (a capital, then lower-case letters, in one or more humps).
    /// </summary>
    [Theory]
    [MemberData(nameof(Verbs))]
    public void HelpDefaults_AreWrittenAsUsersTypeThem(string verb)
    {
        var defaults = Regex.Matches(CliRunner.Run(verb, "--help").Stdout, @"\(Default: ([^)]*)\)").Select(m => m.Groups[1].Value).ToList();
        Assert.All(defaults, d => Assert.DoesNotMatch("^([A-Z][a-z]+)+$", d));
    }

    /// <summary>Messages name a platform by its spec name (`sev-es`, `default`), never by the KvmVmType member (`SevEs`).</summary>
    [Theory]
    [InlineData("running a sev-es guest is not supported yet", "launch", "launch-specs/sev-es.yaml")]
    [InlineData("platform default has no launch measurement", "measure", "launch-specs/default.yaml")]
    [InlineData("platform sw-protected has no launch measurement", "reference-values", "launch-specs/sw-protected.yaml")]
    [InlineData("no step 'boot' in the tdx launch", "launch", "launch-specs/tdx.yaml", "--stop-after", "boot")]
    [InlineData("platform sev has no IGVM form", "igvm", "build", "launch-specs/sev.yaml", "--out", "OUT")]
    [InlineData("evidence exists for snp and tdx guests, not sev", "attest", "launch-specs/sev.yaml", "--out", "OUT")]
    public void PlatformsInMessages_AreSpecNames(string expected, params string[] args)
    {
        using var dir = new TempDir();
        string[] resolved = [.. args.Select(a => a == "OUT" ? Path.Combine(dir.Path, "out") : a.StartsWith("launch-specs/", StringComparison.Ordinal) ? Path.Combine(RepoPaths.Root, a) : a)];
        var result = CliRunner.Run(resolved);
        Assert.Equal(2, result.Exit);
        Assert.Contains(expected, result.ErrorLine, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"\b(Default|SwProtected|Sev|SevEs|Snp|Tdx)\b", result.ErrorLine);
    }

    /// <summary>
    /// `launch --help` lists, per recipe, the steps --stop-after accepts. Each list is checked against what the launch
    /// itself says its steps are (the error for an unknown step, from the recipe it runs for that spec), and the last
    /// step listed runs to completion on that spec.
    /// </summary>
    [Theory]
    [InlineData("tdx", "tdx.yaml")]
    [InlineData("snp", "snp.yaml")]
    [InlineData("sev", "sev.yaml")]
    [InlineData("sev-es", "sev-es.yaml")]
    [InlineData("sw-protected", "sw-protected.yaml")]
    [InlineData("default", "default.yaml")]
    [InlineData("snp with a kernel", "linux-snp.yaml")]
    public void StopAfterHelp_ListsTheStepsEachLaunchRuns(string recipe, string specName)
    {
        string help = Regex.Replace(CliRunner.Run("launch", "--help").Stdout, @"\s+", " ");
        string all = Regex.Match(help, @"The steps, in order: (.*?)\. --").Groups[1].Value;
        var listed = all.Split("; ")
            .Select(entry => entry.Split(": "))
            .Single(e => e[0].Split(", ").Contains(recipe))[1];

        string spec = RepoPaths.LaunchSpec(specName);
        var unknown = CliRunner.Run("launch", spec, "--stop-after", "no-such-step");
        Assert.EndsWith($"(steps: {listed})", unknown.ErrorLine, StringComparison.Ordinal);

        var last = CliRunner.Run("launch", spec, "--stop-after", listed.Split(", ")[^1]);
        Assert.True(last.Exit == 0, last.Stderr);
        Assert.StartsWith("memslot 0: ", last.Stdout, StringComparison.Ordinal);
    }
}
