using System.Security.Cryptography;
using System.Text;

namespace CocoLaunch.Tests.Shared;

/// <summary>
/// An independent MRTD calculator for tests, written from tdx-mrtd.md §2 alone: it shares no code with the
/// emulated TDX module, so agreement between the two is evidence, not tautology.
/// </summary>
internal static class ReferenceMrtd
{
    /// <summary>A section as the test knows it: GPA, page count, whether MR.EXTEND applies, and its bytes (null = zero pages).</summary>
    public sealed record Section(ulong Gpa, int Pages, bool Extend, byte[]? Content);

    public static string Compute(IEnumerable<Section> sections, bool twoPass = false)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA384);
        foreach (var s in sections)
        {
            if (twoPass)
            {
                for (int p = 0; p < s.Pages; p++)
                {
                    Add(sha, s.Gpa + ((ulong)p * 4096));
                }

                for (int p = 0; s.Extend && p < s.Pages; p++)
                {
                    ExtendPage(sha, s, p);
                }

                continue;
            }

            for (int p = 0; p < s.Pages; p++)
            {
                Add(sha, s.Gpa + ((ulong)p * 4096));
                if (s.Extend)
                {
                    ExtendPage(sha, s, p);
                }
            }
        }

        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private static void Add(IncrementalHash sha, ulong gpa) => sha.AppendData(Header("MEM.PAGE.ADD", gpa));

    private static void ExtendPage(IncrementalHash sha, Section s, int page)
    {
        for (int chunk = 0; chunk < 16; chunk++)
        {
            ulong gpa = s.Gpa + ((ulong)page * 4096) + ((ulong)chunk * 256);
            sha.AppendData(Header("MR.EXTEND", gpa));
            var data = new byte[256];
            if (s.Content is not null)
            {
                int at = (page * 4096) + (chunk * 256);
                Array.Copy(s.Content, at, data, 0, Math.Max(0, Math.Min(256, s.Content.Length - at)));
            }

            sha.AppendData(data);
        }
    }

    private static byte[] Header(string tag, ulong gpa)
    {
        var b = new byte[128];
        Encoding.ASCII.GetBytes(tag).CopyTo(b, 0);
        BitConverter.GetBytes(gpa).CopyTo(b, 16);
        return b;
    }
}
