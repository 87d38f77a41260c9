using System.Text;

namespace CocoLaunch.Cli.Reports;

/// <summary>Left-aligned columns separated by two spaces, for terminal reports.</summary>
internal sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> rows = [headers];

    public void Add(params string[] cells) => rows.Add(cells);

    public void Write(TextWriter output, string indent = "  ")
    {
        int columns = rows.Max(r => r.Length);
        int[] widths = Enumerable.Range(0, columns).Select(c => rows.Max(r => c < r.Length ? r[c].Length : 0)).ToArray();
        foreach (var row in rows)
        {
            var line = new StringBuilder(indent);
            for (int c = 0; c < row.Length; c++)
            {
                line.Append(c == row.Length - 1 ? row[c] : row[c].PadRight(widths[c] + 2));
            }

            output.WriteLine(line.ToString().TrimEnd());
        }
    }
}
