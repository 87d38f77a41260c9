using System.Buffers.Binary;
using CocoLaunch.Formats.Ovmf;
using CocoLaunch.Formats.Tdvf;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Formats.Tests;

/// <summary>Parser-level checks that corrupt structures are reported at the right offset. The CLI tests cover messages and exit codes.</summary>
public sealed class MalformedFirmwareTests
{
    private const int Size = 0x10000;

    [Fact]
    public void Parse_TableLengthPastStart_ThrowsAtFooter()
    {
        var bytes = new OvmfImageBuilder(0x1000).Build();
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(0x1000 - 50), 0xFFFF);
        var e = Assert.Throws<FirmwareFormatException>(() => OvmfFirmware.Parse(FirmwareImage.FromBytes("t.fd", bytes)));
        Assert.Equal(0x1000 - 50, e.Offset);
    }

    [Fact]
    public void Parse_NoFooterButLegacyPointer_FindsTdvfWithoutTable()
    {
        var builder = new OvmfImageBuilder(Size).Tdvf(0x800, OvmfImageBuilder.MinimalTdvf(Size));
        var bytes = builder.Build();
        bytes.AsSpan(Size - 48, 16).Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(Size - 0x20), Size - 0x800);
        var fw = OvmfFirmware.Parse(FirmwareImage.FromBytes("shim.fd", bytes));
        Assert.Null(fw.GuidTable);
        Assert.Equal(TdvfLocator.LegacyPointer, fw.Tdx.Value!.Locator);
        Assert.Equal(2, fw.Tdx.Value.Sections.Count);
    }

    [Fact]
    public void Parse_BrokenTdxButGoodSev_KeepsSevUsable()
    {
        var sections = OvmfImageBuilder.MinimalTdvf(Size);
        sections[1] = sections[1] with { Gpa = 0x80_0800 };
        var bytes = new OvmfImageBuilder(Size).Tdvf(0x800, sections).Asev(0x400, (0x80_0000, 0x1000, 1)).Entry(OvmfImageBuilder.ResetBlock, 0x80_1004u).Build();
        var fw = OvmfFirmware.Parse(FirmwareImage.FromBytes("t.fd", bytes));
        Assert.Equal(Size - 0x800 + 16 + 32, fw.Tdx.Error!.Offset);
        Assert.Equal(0x80_1004u, fw.Sev.Value!.ApResetEip);
        Assert.Same(fw.Tdx.Error, fw.FirstError);
    }

    [Fact]
    public void Parse_UnknownTdvfType_IsANoteNotAnError()
    {
        var sections = OvmfImageBuilder.MinimalTdvf(Size);
        sections[1] = sections[1] with { Type = 0x1F };
        var fw = OvmfFirmware.Parse(FirmwareImage.FromBytes("t.fd", new OvmfImageBuilder(Size).Tdvf(0x800, sections).Build()));
        Assert.Equal("unknown(0x1f)", fw.Tdx.Value!.Sections[1].TypeName);
        var note = Assert.Single(fw.Notes);
        Assert.Equal("TDX section #1 (unknown(0x1f)) has an unknown type; a launch that measures this image will reject it", note.Message);
    }

    [Fact]
    public void Parse_StrayBytesAtTableStart_IsANote()
    {
        var bytes = new OvmfImageBuilder(Size).Entry(OvmfImageBuilder.ResetBlock, 0x80_1004u).Build();
        int footer = Size - 50;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(footer), (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(footer)) + 5));
        var fw = OvmfFirmware.Parse(FirmwareImage.FromBytes("t.fd", bytes));
        Assert.Single(fw.GuidTable!.Entries);
        Assert.Equal("5 bytes at the start of the OVMF GUID table belong to no entry (ignored)", Assert.Single(fw.Notes).Message);
    }
}
