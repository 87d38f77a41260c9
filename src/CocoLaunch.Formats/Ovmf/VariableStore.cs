using System.Buffers.Binary;
using System.Text;

namespace CocoLaunch.Formats.Ovmf;

/// <summary>A UEFI variable as the firmware's variable store holds it.</summary>
public sealed record StoredVariable(Guid Vendor, string Name, uint Attributes, byte[] Data);

/// <summary>
/// The variables in an OVMF variable store firmware volume (the CFV of a TDVF image, or OVMF_VARS.fd): the firmware
/// volume header, the VARIABLE_STORE_HEADER of the authenticated format (edk2 MdeModulePkg/Include/Guid/VariableFormat.h),
/// then AUTHENTICATED_VARIABLE_HEADER records, each 4-byte aligned, until one does not start with 0x55AA.
/// </summary>
public static class VariableStore
{
    private const int FvHeaderLengthAt = 0x30, FvSignatureAt = 0x28;
    private const uint FvSignature = 0x4856_465F; // "_FVH"
    private const int StoreHeaderSize = 28, StoreSizeAt = 16;
    private const ushort StartId = 0x55AA;
    private const int VariableHeaderSize = 60, StateAt = 2, AttributesAt = 4, NameSizeAt = 36, DataSizeAt = 40, VendorAt = 44;

    /// <summary>VAR_ADDED with VAR_HEADER_VALID_ONLY and VAR_DELETED still set (bits are cleared as a record progresses).</summary>
    private const byte Added = 0x3F, AddedInDeletedTransition = 0x3E;

    private static readonly Guid AuthenticatedStore = new("aaf32c78-947b-439a-a180-2e144ec37792");

    /// <summary>The live variables of <paramref name="volume"/>; errors give offsets into it.</summary>
    public static IReadOnlyList<StoredVariable> Read(ReadOnlySpan<byte> volume)
    {
        if (volume.Length < FvHeaderLengthAt + 2 || BinaryPrimitives.ReadUInt32LittleEndian(volume[FvSignatureAt..]) != FvSignature)
        {
            throw new FirmwareFormatException(0, "the variable store is not a firmware volume (no _FVH signature)");
        }

        int store = BinaryPrimitives.ReadUInt16LittleEndian(volume[FvHeaderLengthAt..]);
        if (store + StoreHeaderSize > volume.Length || new Guid(volume.Slice(store, 16)) != AuthenticatedStore)
        {
            throw new FirmwareFormatException(store, "the variable store header is not the authenticated-variable format OVMF uses");
        }

        long end = Math.Min(volume.Length, (long)store + BinaryPrimitives.ReadUInt32LittleEndian(volume[(store + StoreSizeAt)..]));
        var variables = new List<StoredVariable>();
        int at = store + StoreHeaderSize;
        while (at + VariableHeaderSize <= end && BinaryPrimitives.ReadUInt16LittleEndian(volume[at..]) == StartId)
        {
            uint nameSize = BinaryPrimitives.ReadUInt32LittleEndian(volume[(at + NameSizeAt)..]);
            uint dataSize = BinaryPrimitives.ReadUInt32LittleEndian(volume[(at + DataSizeAt)..]);
            long next = at + VariableHeaderSize + (long)nameSize + dataSize;
            if (next > end || nameSize % 2 != 0)
            {
                throw new FirmwareFormatException(at, $"variable record of name size {nameSize} and data size {dataSize} runs past the store");
            }

            byte state = volume[at + StateAt];
            if (state is Added or AddedInDeletedTransition)
            {
                var text = volume.Slice(at + VariableHeaderSize, (int)nameSize);
                variables.Add(new StoredVariable(
                    new Guid(volume.Slice(at + VendorAt, 16)),
                    Encoding.Unicode.GetString(text).TrimEnd('\0'),
                    BinaryPrimitives.ReadUInt32LittleEndian(volume[(at + AttributesAt)..]),
                    volume.Slice(at + VariableHeaderSize + (int)nameSize, (int)dataSize).ToArray()));
            }

            at = (int)((next + 3) & ~3L);
        }

        return variables;
    }
}
