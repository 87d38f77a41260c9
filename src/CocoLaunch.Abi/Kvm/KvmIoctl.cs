namespace CocoLaunch.Abi.Kvm;

/// <summary>ioctl request numbers, built with the kernel's <c>_IOC</c> encoding so that none is typed by hand.</summary>
public static class KvmIoctl
{
    private const uint KvmIo = 0xAE;
    private const uint GmemIo = 0xAF;
    private const uint None = 0;
    private const uint Write = 1;
    private const uint Read = 2;

    public static readonly uint CreateVm = Ioc(None, KvmIo, 0x01, 0);
    public static readonly uint CheckExtension = Ioc(None, KvmIo, 0x03, 0);
    public static readonly uint CreateVcpu = Ioc(None, KvmIo, 0x41, 0);
    public static readonly uint SetUserMemoryRegion = Ioc(Write, KvmIo, 0x46, KvmUserspaceMemoryRegion.SizeInBytes);
    public static readonly uint SetUserMemoryRegion2 = Ioc(Write, KvmIo, 0x49, KvmUserspaceMemoryRegion2.SizeInBytes);
    public static readonly uint Run = Ioc(None, KvmIo, 0x80, 0);
    public static readonly uint EnableCap = Ioc(Write, KvmIo, 0xA3, KvmEnableCap.SizeInBytes);
    public static readonly uint SignalMsi = Ioc(Write, KvmIo, 0xA5, KvmMsi.SizeInBytes);
    public static readonly uint MemoryEncryptOp = Ioc(Read | Write, KvmIo, 0xBA, 8);
    public static readonly uint SetMemoryAttributes = Ioc(Write, KvmIo, 0xD2, KvmMemoryAttributesArgs.SizeInBytes);
    public static readonly uint CreateGuestMemfd = Ioc(Read | Write, KvmIo, 0xD4, KvmCreateGuestMemfd.SizeInBytes);
    public static readonly uint PreFaultMemory = Ioc(Read | Write, KvmIo, 0xD5, KvmPreFaultMemory.SizeInBytes);
    public static readonly uint GmemConvertShared = Ioc(Read | Write, GmemIo, 0x41, KvmGmemConvert.SizeInBytes);
    public static readonly uint GmemConvertPrivate = Ioc(Read | Write, GmemIo, 0x42, KvmGmemConvert.SizeInBytes);

    /// <summary><c>_IOC(dir, type, nr, size)</c>.</summary>
    public static uint Ioc(uint direction, uint type, uint number, int size) =>
        (direction << 30) | ((uint)size << 16) | (type << 8) | number;
}
