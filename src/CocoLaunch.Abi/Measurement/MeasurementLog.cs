using System.Globalization;

namespace CocoLaunch.Abi.Measurement;

/// <summary>One measured operation, in the order the firmware model performed it.</summary>
/// <param name="Operation">The vendor's name for it: MEM.PAGE.ADD, MR.EXTEND, LAUNCH_UPDATE NORMAL, …</param>
/// <param name="Gpa">The guest-physical address the operation names.</param>
/// <param name="Section">What the launcher was loading when it happened (e.g. "TDVF #0 BFV"), for explain views.</param>
/// <param name="BytesHashed">Bytes fed into the digest by this operation.</param>
public sealed record MeasuredOperation(long Sequence, string Operation, Gpa Gpa, string Section, int BytesHashed)
{
    /// <summary>One line, fixed columns, so that two logs can be compared with diff(1).</summary>
    public string ToLine() =>
        string.Create(CultureInfo.InvariantCulture, $"{Sequence,8} {Operation,-13} gpa=0x{Gpa.Value:x12} bytes={BytesHashed,-4} {Section}");
}

/// <summary>
/// The append-only record of every measured operation: measurement order kept as data. A digest's
/// "explain" view and the first-divergence diff between two launches are both read from it.
/// </summary>
public sealed class MeasurementLog
{
    // Compact rows (a launch logs hundreds of thousands of operations); records are made when read.
    private readonly List<Row> rows = [];
    private readonly List<string> names = [];
    private readonly List<string> sections = [];
    private string section = string.Empty;
    private int sectionIndex = -1;
    private string? lastName;
    private int lastNameIndex;

    /// <summary>What subsequent operations are attributed to; set by the launcher as it loads each section.</summary>
    public string Section
    {
        get => section;
        set
        {
            section = value;
            sectionIndex = -1;
        }
    }

    public int Count => rows.Count;

    public IReadOnlyList<MeasuredOperation> Operations => rows.Select((r, i) => new MeasuredOperation(i, names[r.Name], new Gpa(r.Gpa), sections[r.Section], r.Bytes)).ToList();

    public long TotalBytesHashed => rows.Sum(r => (long)r.Bytes);

    public void Append(string operation, Gpa gpa, int bytesHashed)
    {
        lock (rows)
        {
            if (sectionIndex < 0)
            {
                sections.Add(section);
                sectionIndex = sections.Count - 1;
            }

            int name = ReferenceEquals(operation, lastName) ? lastNameIndex : names.IndexOf(operation);
            if (name < 0)
            {
                names.Add(operation);
                name = names.Count - 1;
            }

            (lastName, lastNameIndex) = (operation, name);

            rows.Add(new Row(gpa.Value, name, sectionIndex, bytesHashed));
        }
    }

    public int CountOf(string operation)
    {
        int name = names.IndexOf(operation);
        return rows.Count(r => r.Name == name);
    }

    /// <summary>The index of the first operation where two logs differ (by operation, GPA and bytes), or null when equal.</summary>
    public static int? FirstDivergence(IReadOnlyList<MeasuredOperation> a, IReadOnlyList<MeasuredOperation> b)
    {
        int n = Math.Min(a.Count, b.Count);
        for (int i = 0; i < n; i++)
        {
            if (a[i].Operation != b[i].Operation || a[i].Gpa != b[i].Gpa || a[i].BytesHashed != b[i].BytesHashed)
            {
                return i;
            }
        }

        return a.Count == b.Count ? null : n;
    }

    private readonly record struct Row(ulong Gpa, int Name, int Section, int Bytes);
}
