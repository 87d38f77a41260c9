using System.Buffers.Binary;
using CocoLaunch.Formats.Ovmf;

namespace CocoLaunch.Cli.Reports;

/// <summary>Decodes a GUID table entry's data for display.</summary>
internal static class EntryValues
{
    public static string Describe(OvmfFirmware fw, OvmfGuidTableEntry entry)
    {
        byte[] data = fw.Image.Bytes.Span.Slice((int)entry.Offset, entry.DataLength).ToArray();
        uint U32(int at) => BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(at));
        string Hex(ulong v) => $"0x{v:x}";
        return entry.Guid switch
        {
            _ when data.Length < 4 => Dump(data),
            _ when entry.Guid == OvmfGuids.TdxMetadataOffset || entry.Guid == OvmfGuids.SevMetadataOffset =>
                $"{Hex(U32(0))} from the end (offset {Hex((ulong)(fw.Image.Size - (long)U32(0)))})",
            _ when entry.Guid == OvmfGuids.SevEsResetBlock => $"AP reset EIP {Hex(U32(0))}",
            _ when (entry.Guid == OvmfGuids.SevHashTable || entry.Guid == OvmfGuids.SevLaunchSecret) && data.Length >= 8 =>
                $"base {Hex(U32(0))} size {Hex(U32(4))}",
            _ when entry.Guid == OvmfGuids.SvsmInfo => $"entry offset {Hex(U32(0))}",
            _ => Dump(data),
        };
    }

    public static string Dump(ReadOnlySpan<byte> data) =>
        data.Length <= 16 ? Convert.ToHexStringLower(data) : Convert.ToHexStringLower(data[..16]) + $"… ({data.Length} bytes)";
}
