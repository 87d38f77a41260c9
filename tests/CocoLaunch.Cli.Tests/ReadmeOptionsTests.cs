using System.Text.RegularExpressions;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// The README documents every option of every verb (issue 21 item 6): each option a verb's --help lists appears in the
/// README's rows for that verb (the "What works today" table, rows starting with `cocolaunch VERB`). A new option
/// fails here until it is documented.
/// </summary>
public sealed class ReadmeOptionsTests
{
    private static readonly string[] Rows = [.. File.ReadAllLines(Path.Combine(RepoPaths.Root, "README.md")).Where(l => l.StartsWith("| `cocolaunch ", StringComparison.Ordinal))];

    [Theory]
    [MemberData(nameof(CliConventionsTests.Verbs), MemberType = typeof(CliConventionsTests))]
    public void EveryOptionOfTheVerb_IsInItsReadmeRows(string verb)
    {
        string section = string.Join("\n", Rows.Where(r => r.StartsWith($"| `cocolaunch {verb} ", StringComparison.Ordinal) || r.StartsWith($"| `cocolaunch {verb}`", StringComparison.Ordinal)));
        Assert.False(section.Length == 0, $"the README has no row for `cocolaunch {verb}`");
        var missing = CliConventionsTests.HelpOptions(verb).Where(o => !Regex.IsMatch(section, Regex.Escape(o) + "(?![a-z0-9-])")).ToList();
        Assert.Empty(missing);
    }
}
