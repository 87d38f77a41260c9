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
    private readonly List<MeasuredOperation> operations = [];

    /// <summary>What subsequent operations are attributed to; set by the launcher as it loads each section.</summary>
    public string Section { get; set; } = string.Empty;

    public IReadOnlyList<MeasuredOperation> Operations => operations;

    public long TotalBytesHashed => operations.Sum(o => (long)o.BytesHashed);

    public void Append(string operation, Gpa gpa, int bytesHashed)
    {
        lock (operations)
        {
            operations.Add(new MeasuredOperation(operations.Count, operation, gpa, Section, bytesHashed));
        }
    }

    public int Count(string operation) => operations.Count(o => o.Operation == operation);

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
}
