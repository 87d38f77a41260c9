using System.Buffers.Binary;
using System.Text;

namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// QEMU's firmware configuration device (QEMU docs/specs/fw_cfg.rst) at its x86 ports, with the DMA interface: the
/// selector at 0x510, the data byte at 0x511, and the 64-bit big-endian DMA address at 0x514 (high half) and 0x518
/// (low half, whose write starts the transfer). A transfer reads its access descriptor {be32 control, be32 length,
/// be64 address} from guest memory, moves the data and writes the control back: 0, or the error bit. Items are the
/// fixed keys below 0x20 and named files from 0x20, listed in the file directory (key 0x19). Read-only: writes fail.
/// </summary>
public sealed class FwCfg(IDmaMemory memory) : IPortDevice
{
    public const ushort SelectorPort = 0x510, DataPort = 0x511, DmaPort = 0x514, PortCount = 12;
    public const ushort Signature = 0x00, Id = 0x01, FileDir = 0x19, FirstFile = 0x20;
    public const ushort KernelSize = 0x08, InitrdSize = 0x0B, KernelData = 0x11, InitrdData = 0x12;
    public const ushort CmdlineSize = 0x14, CmdlineData = 0x15, SetupSize = 0x17, SetupData = 0x18;

    private const uint ControlError = 0x01, ControlRead = 0x02, ControlSkip = 0x04, ControlSelect = 0x08, ControlWrite = 0x10;
    private const uint IdTraditional = 1, IdDma = 2;
    private const int AccessSize = 16, FileNameSize = 56, FileEntrySize = 64;

    // Memory, not arrays: a kernel's setup and body are served as two slices of the one file read, not two copies.
    private readonly Dictionary<ushort, ReadOnlyMemory<byte>> items = new()
    {
        [Signature] = "QEMU"u8.ToArray(),
        [Id] = BitConverter.GetBytes(IdTraditional | IdDma),
    };

    private readonly List<(string Name, ushort Key)> files = [];
    private readonly Dictionary<ushort, Action> selectCallbacks = [];
    private ushort selected;
    private int offset;
    private uint dmaHigh;

    /// <summary>Transfers served, and the bytes they moved (for the run's statistics).</summary>
    public long Transfers { get; private set; }

    public long BytesMoved { get; private set; }

    /// <summary>A fixed item (key below 0x20).</summary>
    public void Add(ushort key, ReadOnlyMemory<byte> data) => items[key] = data;

    /// <summary>A numeric item: fw_cfg's numbers are little-endian, unlike its DMA and directory fields.</summary>
    public void AddU32(ushort key, uint value) => items[key] = BitConverter.GetBytes(value);

    /// <summary>
    /// The items of a direct Linux boot as QEMU's x86_load_linux adds them: the image split at the end of its real-mode
    /// setup (FW_CFG_SETUP_*, FW_CFG_KERNEL_*), the initrd, and the command line with its NUL.
    /// </summary>
    public void AddLinuxBoot(ReadOnlyMemory<byte> image, int setupLength, ReadOnlyMemory<byte> initrd, string cmdline)
    {
        byte[] line = [.. Encoding.UTF8.GetBytes(cmdline), 0];
        AddU32(SetupSize, (uint)setupLength);
        Add(SetupData, image[..setupLength]);
        AddU32(KernelSize, (uint)(image.Length - setupLength));
        Add(KernelData, image[setupLength..]);
        AddU32(InitrdSize, (uint)initrd.Length);
        Add(InitrdData, initrd);
        AddU32(CmdlineSize, (uint)line.Length);
        Add(CmdlineData, line);
    }

    /// <summary>QEMU's <c>etc/e820</c>: packed {u64 address, u64 length, u32 type 1 (RAM)} per RAM range.</summary>
    public void AddE820(IEnumerable<(ulong Base, ulong Size)> ram)
    {
        const int EntrySize = 20;
        const uint E820Ram = 1;
        var ranges = ram.ToList();
        var bytes = new byte[ranges.Count * EntrySize];
        for (int i = 0; i < ranges.Count; i++)
        {
            var e = bytes.AsSpan(i * EntrySize);
            BinaryPrimitives.WriteUInt64LittleEndian(e, ranges[i].Base);
            BinaryPrimitives.WriteUInt64LittleEndian(e[8..], ranges[i].Size);
            BinaryPrimitives.WriteUInt32LittleEndian(e[16..], E820Ram);
        }

        AddFile(E820File, bytes);
    }

    public const string E820File = "etc/e820";

    /// <summary>A named file, given the next file key; the directory lists the files sorted by name, as QEMU's does.</summary>
    public void AddFile(string name, byte[] data)
    {
        if (Encoding.ASCII.GetByteCount(name) >= FileNameSize)
        {
            throw new ArgumentException($"fw_cfg file name '{name}' is longer than {FileNameSize - 1} bytes", nameof(name));
        }

        ushort key = (ushort)(FirstFile + files.Count);
        files.Add((name, key));
        items[key] = data;
        items[FileDir] = Directory();
    }

    /// <summary>
    /// A file whose <paramref name="selected"/> runs each time the guest selects it, before it reads: QEMU's select
    /// callback (hw/nvram/fw_cfg.c fw_cfg_add_file_callback), with which it builds the ACPI tables when the firmware
    /// first reads them.
    /// </summary>
    public void AddFile(string name, byte[] data, Action selected)
    {
        AddFile(name, data);
        selectCallbacks[files[^1].Key] = selected;
    }

    /// <summary>Replaces a file's contents with as many bytes: the directory the guest may have read stays true.</summary>
    /// <exception cref="ArgumentException">No such file, or the length differs.</exception>
    public void UpdateFile(string name, byte[] data)
    {
        int index = files.FindIndex(f => f.Name == name);
        if (index < 0)
        {
            throw new ArgumentException($"no fw_cfg file '{name}'", nameof(name));
        }

        ushort key = files[index].Key;
        if (items[key].Length != data.Length)
        {
            throw new ArgumentException($"fw_cfg file '{name}' has {items[key].Length} bytes, not {data.Length}", nameof(data));
        }

        items[key] = data;
    }

    public uint Read(ushort port, int size)
    {
        if (port != DataPort)
        {
            return AccessWidth.AllOnes(size);
        }

        var item = items.GetValueOrDefault(selected).Span;
        return offset < item.Length ? item[offset++] : 0u;
    }

    public void Write(ushort port, int size, uint value)
    {
        switch (port)
        {
            case SelectorPort when size == 2:
                Select((ushort)value);
                break;
            case DmaPort when size == 4:
                dmaHigh = BinaryPrimitives.ReverseEndianness(value);
                break;
            case DmaPort + 4 when size == 4:
                Transfer(((ulong)dmaHigh << 32) | BinaryPrimitives.ReverseEndianness(value));
                dmaHigh = 0;
                break;
        }
    }

    private void Select(ushort key)
    {
        (selected, offset) = (key, 0);
        if (selectCallbacks.TryGetValue(key, out var callback))
        {
            callback();
        }
    }

    /// <summary>One DMA transfer; the control word written back is 0 on success, the error bit otherwise.</summary>
    private void Transfer(ulong accessGpa)
    {
        Span<byte> access = stackalloc byte[AccessSize];
        if (!memory.TryRead(new Abi.Gpa(accessGpa), access))
        {
            return; // nowhere to report it: the guest sees its descriptor unchanged
        }

        uint control = BinaryPrimitives.ReadUInt32BigEndian(access);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(access[4..]);
        ulong address = BinaryPrimitives.ReadUInt64BigEndian(access[8..]);
        if ((control & ControlSelect) != 0)
        {
            Select((ushort)(control >> 16));
        }

        bool ok = (control & ControlWrite) == 0;
        if (ok && (control & (ControlRead | ControlSkip)) != 0)
        {
            var item = items.GetValueOrDefault(selected).Span;
            int available = Math.Max(0, Math.Min((int)Math.Min(length, int.MaxValue), item.Length - offset));
            // Past the item's end a read gives zeros, as QEMU's does.
            var data = new byte[length];
            item.Slice(offset, available).CopyTo(data);
            ok = (control & ControlRead) == 0 || memory.TryWrite(new Abi.Gpa(address), data);
            offset += available;
            BytesMoved += length;
        }

        Transfers++;
        BinaryPrimitives.WriteUInt32BigEndian(access, ok ? 0 : ControlError);
        memory.TryWrite(new Abi.Gpa(accessGpa), access[..4]);
    }

    /// <summary>The file directory: be32 count, then {be32 size, be16 key, be16 reserved, name[56]} per file, by name.</summary>
    private byte[] Directory()
    {
        var sorted = files.OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
        var dir = new byte[4 + (sorted.Count * FileEntrySize)];
        BinaryPrimitives.WriteUInt32BigEndian(dir, (uint)sorted.Count);
        for (int i = 0; i < sorted.Count; i++)
        {
            var e = dir.AsSpan(4 + (i * FileEntrySize), FileEntrySize);
            BinaryPrimitives.WriteUInt32BigEndian(e, (uint)items[sorted[i].Key].Length);
            BinaryPrimitives.WriteUInt16BigEndian(e[4..], sorted[i].Key);
            Encoding.ASCII.GetBytes(sorted[i].Name).CopyTo(e[8..]);
        }

        return dir;
    }
}
