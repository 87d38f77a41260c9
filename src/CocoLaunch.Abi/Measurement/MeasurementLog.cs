using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;

namespace CocoLaunch.Abi.Measurement;

/// <summary>One measured operation, in the order the firmware model performed it.</summary>
/// <param name="Operation">The vendor's name for it: MEM.PAGE.ADD, MR.EXTEND, LAUNCH_UPDATE NORMAL, …</param>
/// <param name="Gpa">The guest-physical address the operation names.</param>
/// <param name="Section">What the launcher was loading when it happened (e.g. "TDVF #0 BFV"), for explain views.</param>
/// <param name="BytesHashed">Bytes fed into the digest by this operation.</param>
/// <param name="Content">
/// A fingerprint of what the operation measured (the first 8 bytes of SHA-256 over it), when the log records content:
/// it tells two operations on the same GPA apart when only the bytes differ.
/// </param>
public sealed record MeasuredOperation(long Sequence, string Operation, Gpa Gpa, string Section, int BytesHashed, ulong? Content = null)
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
    // Compact rows (a launch logs hundreds of thousands of operations); records are made when read. A row is a
    // run of like operations at evenly spaced GPAs, such as the 16 MR.EXTENDs of one page, so most launches
    // store a row or two per page instead of one per operation.
    private readonly List<Row> rows = [];
    private readonly Lock gate = new();
    private int count;
    private long totalBytes;
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

    public int Count => count;

    /// <summary>Record a content fingerprint per operation (for reference values and verify); off by default, as it costs a hash.</summary>
    public bool RecordContent { get; set; }

    private readonly List<ulong> contents = [];

    public IReadOnlyList<MeasuredOperation> Operations
    {
        get
        {
            lock (gate)
            {
                var operations = new List<MeasuredOperation>(count);
                foreach (var r in rows)
                {
                    for (int i = 0; i < r.Count; i++)
                    {
                        int n = operations.Count;
                        operations.Add(new MeasuredOperation(n, names[r.Name], new Gpa(r.Gpa + ((ulong)i * r.Stride)), sections[r.Section], r.Bytes, n < contents.Count ? contents[n] : null));
                    }
                }

                return operations;
            }
        }
    }

    public long TotalBytesHashed => totalBytes;

    /// <summary>Appends an operation; <paramref name="content"/> is what it measured, fingerprinted when <see cref="RecordContent"/> is on.</summary>
    public void Append(string operation, Gpa gpa, int bytesHashed, ReadOnlySpan<byte> content)
    {
        if (!RecordContent)
        {
            Append(operation, gpa, bytesHashed);
            return;
        }

        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(content, hash);
        Append(operation, gpa, bytesHashed, BinaryPrimitives.ReadUInt64BigEndian(hash));
    }

    /// <summary>Appends an operation that measures no content of its own (its fingerprint, when recorded, is 0).</summary>
    public void Append(string operation, Gpa gpa, int bytesHashed) => Append(operation, gpa, bytesHashed, 0UL);

    private void Append(string operation, Gpa gpa, int bytesHashed, ulong content)
    {
        lock (gate)
        {
            if (RecordContent)
            {
                contents.Add(content);
            }

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

            count++;
            totalBytes += bytesHashed;
            if (rows.Count > 0 && rows[^1].TryExtend(gpa.Value, name, sectionIndex, bytesHashed) is { } run)
            {
                rows[^1] = run;
                return;
            }

            rows.Add(new Row(gpa.Value, name, sectionIndex, bytesHashed, Count: 1, Stride: 0));
        }
    }

    public int CountOf(string operation)
    {
        int name = names.IndexOf(operation);
        return rows.Where(r => r.Name == name).Sum(r => r.Count);
    }

    /// <summary>
    /// The index of the first operation where two logs differ (by operation, GPA, bytes, and content where both
    /// recorded it), or null when equal.
    /// </summary>
    public static int? FirstDivergence(IReadOnlyList<MeasuredOperation> a, IReadOnlyList<MeasuredOperation> b)
    {
        int n = Math.Min(a.Count, b.Count);
        for (int i = 0; i < n; i++)
        {
            if (a[i].Operation != b[i].Operation || a[i].Gpa != b[i].Gpa || a[i].BytesHashed != b[i].BytesHashed
                || (a[i].Content is { } ca && b[i].Content is { } cb && ca != cb))
            {
                return i;
            }
        }

        return a.Count == b.Count ? null : n;
    }

    private readonly record struct Row(ulong Gpa, int Name, int Section, int Bytes, int Count, ulong Stride)
    {
        /// <summary>This run with one more operation, when the operation continues it; otherwise null.</summary>
        public Row? TryExtend(ulong gpa, int name, int section, int bytes)
        {
            if (name != Name || section != Section || bytes != Bytes || Count == int.MaxValue || gpa <= Gpa)
            {
                return null;
            }

            ulong stride = Count == 1 ? gpa - Gpa : Stride;
            return gpa - Gpa == stride * (ulong)Count ? this with { Count = Count + 1, Stride = stride } : null;
        }
    }
}
