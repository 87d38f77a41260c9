using System.Diagnostics;
using System.Text;

namespace CocoLaunch.Vmm.Bench;

/// <summary>
/// A console sink that notes when given lines first appear (the wall-clock time since it was made), so a boot's
/// milestones — the banner, "Run /init", the init's first line — can be timed without parsing logs afterwards.
/// </summary>
public sealed class ConsoleMilestones(params string[] markers) : Stream
{
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly Dictionary<string, TimeSpan> seen = [];
    private readonly StringBuilder line = new();
    private readonly MemoryStream all = new();

    /// <summary>When each marker first appeared, for the markers that did.</summary>
    public IReadOnlyDictionary<string, TimeSpan> Seen => seen;

    /// <summary>The time since the sink was made.</summary>
    public TimeSpan Elapsed => clock.Elapsed;

    /// <summary>Everything written, for checks and error messages.</summary>
    public string Text => Encoding.Latin1.GetString(all.ToArray());

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        all.Write(buffer);
        foreach (byte b in buffer)
        {
            Scan(b);
        }
    }

    public override void WriteByte(byte value)
    {
        all.WriteByte(value);
        Scan(value);
    }

    private void Scan(byte value)
    {
        if (value != '\n')
        {
            line.Append((char)value);
            return;
        }

        string text = line.ToString();
        line.Clear();
        foreach (string marker in markers)
        {
            if (!seen.ContainsKey(marker) && text.Contains(marker, StringComparison.Ordinal))
            {
                seen[marker] = clock.Elapsed;
            }
        }
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => all.Length;

    public override long Position { get => all.Length; set => throw new NotSupportedException(); }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
