namespace CocoLaunch.Tests.Shared;

/// <summary>The tab-separated tables in tests/data: one row per line, '#' comments and the header skipped.</summary>
internal static class DataTable
{
    public static TheoryData<string[]> Rows(string file, string headerStart)
    {
        var rows = new TheoryData<string[]>();
        foreach (string line in File.ReadLines(Path.Combine(RepoPaths.Root, "tests", "data", file)))
        {
            if (!line.StartsWith('#') && !line.StartsWith(headerStart, StringComparison.Ordinal))
            {
                rows.Add(line.Split('\t'));
            }
        }

        return rows;
    }
}
