namespace CocoLaunch.Formats.Igvm;

/// <summary>
/// CRC-32 as zlib and the IEEE 802.3 frame check compute it (reflected polynomial 0xEDB88320, initial and final
/// value 0xFFFFFFFF): the checksum an IGVM fixed header carries (microsoft/igvm computes it with crc32fast).
/// </summary>
/// <remarks>Table-driven and written here because System.IO.Hashing is not one of the repository's pinned packages.</remarks>
internal static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    /// <summary>Continues a CRC over <paramref name="bytes"/>; start with 0 and chain the result across pieces.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> bytes)
    {
        uint c = ~crc;
        foreach (byte b in bytes)
        {
            c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
        }

        return ~c;
    }

    public static uint Of(ReadOnlySpan<byte> bytes) => Append(0, bytes);

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < table.Length; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }
}
