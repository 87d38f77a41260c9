using CocoLaunch.Vmm.Devices;

namespace CocoLaunch.Vmm.Tests.Devices;

public sealed class BusTests
{
    private sealed class Latch : IPortDevice, IMmioDevice
    {
        public List<(ulong Where, int Size, ulong Value)> Writes { get; } = [];

        public uint Read(ushort port, int size) => 0xDEAD_BEEF;

        public void Write(ushort port, int size, uint value) => Writes.Add((port, size, value));

        public ulong Read(ulong offset, int size) => 0x1122_3344_5566_7788 + offset;

        public void Write(ulong offset, int size, ulong value) => Writes.Add((offset, size, value));
    }

    [Fact]
    public void PortBus_UnclaimedReadsAllOnes_UnclaimedWritesDropped()
    {
        var bus = new PortBus();
        Assert.Equal(0xFFu, bus.In(0x80, 1));
        Assert.Equal(0xFFFFu, bus.In(0x80, 2));
        Assert.Equal(0xFFFF_FFFFu, bus.In(0x80, 4));
        bus.Out(0x80, 1, 0x12);
    }

    [Fact]
    public void PortBus_DispatchesTheAbsolutePort_MaskedToTheAccessSize()
    {
        var bus = new PortBus();
        var latch = new Latch();
        bus.Register(0x3F8, 8, latch);
        Assert.Equal(0xEFu, bus.In(0x3FF, 1));
        Assert.Equal(0xFFu, bus.In(0x400, 1));
        Assert.Equal(0xFFu, bus.In(0x3F7, 1));
        bus.Out(0x3F9, 2, 0x1_2345);
        Assert.Equal([(0x3F9UL, 2, 0x2345UL)], latch.Writes);
    }

    [Theory]
    [InlineData(0x3F8, 8)]
    [InlineData(0x3F0, 9)]
    [InlineData(0x3FF, 1)]
    [InlineData(0x3F0, 0x20)]
    public void PortBus_OverlapThrows(int first, int count)
    {
        var bus = new PortBus();
        bus.Register(0x3F8, 8, new Latch());
        Assert.Throws<ArgumentException>(() => bus.Register((ushort)first, (ushort)count, new Latch()));
    }

    [Fact]
    public void PortBus_AdjacentRangesAndBadRanges()
    {
        var bus = new PortBus();
        bus.Register(0x3F8, 8, new Latch());
        bus.Register(0x3F0, 8, new Latch());
        bus.Register(0x400, 1, new Latch());
        Assert.Throws<ArgumentException>(() => bus.Register(0x500, 0, new Latch()));
        Assert.Throws<ArgumentException>(() => bus.Register(0xFFFF, 2, new Latch()));
    }

    [Fact]
    public void MmioBus_PassesTheOffsetFromTheBase()
    {
        var bus = new MmioBus();
        var latch = new Latch();
        bus.Register(0xFEC0_0000, 0x1000, latch);
        Assert.True(bus.TryRead(0xFEC0_0010, 4, out ulong value));
        Assert.Equal(0x5566_7798UL, value);
        Assert.True(bus.TryWrite(0xFEC0_0FFC, 8, ulong.MaxValue));
        Assert.Equal([(0xFFCUL, 8, ulong.MaxValue)], latch.Writes);
        Assert.False(bus.TryRead(0xFEC0_1000, 4, out value));
        Assert.Equal(0xFFFF_FFFFUL, value);
        Assert.False(bus.TryWrite(0xFEBF_FFFF, 1, 0));
    }

    [Fact]
    public void MmioBus_OverlapAndWrapThrow()
    {
        var bus = new MmioBus();
        bus.Register(0x1000, 0x1000, new Latch());
        Assert.Throws<ArgumentException>(() => bus.Register(0x1FFF, 1, new Latch()));
        Assert.Throws<ArgumentException>(() => bus.Register(0x0, 0x1001, new Latch()));
        Assert.Throws<ArgumentException>(() => bus.Register(ulong.MaxValue, 2, new Latch()));
        bus.Register(0x2000, 1, new Latch());
    }
}
