using System.Runtime.CompilerServices;

namespace CocoLaunch.Cpu;

/// <summary>Segmented and linear guest memory access: limit checks, the TLB fast path, page-crossing and MMIO.</summary>
public sealed unsafe partial class X86Cpu
{
    private CpuExit.MmioRead? mmioAnswered;
    private ulong mmioAnswer;
    private CpuExit.MmioWrite? mmioWritten;

    /// <summary>The linear address of <paramref name="offset"/> in <paramref name="seg"/>, after the limit or canonical check.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong Linear(SegmentName seg, ulong offset, int size)
    {
        if (bitness == 64)
        {
            ulong linear = seg >= SegmentName.Fs ? offset + State.Segments[(int)seg].Base : offset;
            if ((ulong)((long)(linear << 16) >> 16) != linear)
            {
                throw seg == SegmentName.Ss ? new GuestFault(Vector.StackFault, 0) : GuestFault.Gp();
            }

            return linear;
        }

        ref var s = ref State.Segments[(int)seg];
        ulong end = offset + (ulong)size - 1;
        if (s.IsExpandDown ? offset <= s.Limit || end > (s.DefaultBig ? 0xFFFF_FFFFUL : 0xFFFFUL) : end > s.Limit)
        {
            throw seg == SegmentName.Ss ? new GuestFault(Vector.StackFault, 0) : GuestFault.Gp();
        }

        return (s.Base + offset) & 0xFFFF_FFFF;
    }

    internal ulong Read(SegmentName seg, ulong offset, int size) => ReadLinear(Linear(seg, offset, size), size);

    internal void Write(SegmentName seg, ulong offset, int size, ulong value) => WriteLinear(Linear(seg, offset, size), size, value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong ReadLinear(ulong linear, int size)
    {
        byte* p = Fast(linear, size, Access.Read);
        if (p != null)
        {
            return size switch
            {
                1 => *p,
                2 => Unsafe.ReadUnaligned<ushort>(p),
                4 => Unsafe.ReadUnaligned<uint>(p),
                _ => Unsafe.ReadUnaligned<ulong>(p),
            };
        }

        return ReadLinearSlow(linear, size);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WriteLinear(ulong linear, int size, ulong value)
    {
        byte* p = Fast(linear, size, Access.Write);
        if (p != null)
        {
            switch (size)
            {
                case 1: *p = (byte)value; break;
                case 2: Unsafe.WriteUnaligned(p, (ushort)value); break;
                case 4: Unsafe.WriteUnaligned(p, (uint)value); break;
                default: Unsafe.WriteUnaligned(p, value); break;
            }

            return;
        }

        WriteLinearSlow(linear, size, value);
    }

    private ulong ReadLinearSlow(ulong linear, int size)
    {
        CheckAlignment(linear, size);
        if ((linear & 0xFFF) > (ulong)(4096 - size))
        {
            // Page-crossing: both pages must translate before any byte is used, as on hardware.
            Translate(linear, Access.Read);
            Translate((linear | 0xFFF) + 1, Access.Read);
            ulong value = 0;
            for (int i = 0; i < size; i++)
            {
                value |= ReadLinearSlow(linear + (ulong)i, 1) << (8 * i);
            }

            return value;
        }

        ulong gpa = Translate(linear, Access.Read);
        byte* p = FillTlb(linear, Access.Read, gpa);
        if (p == null)
        {
            return MmioRead(gpa, size, linear);
        }

        ulong read = size switch
        {
            1 => *p,
            2 => Unsafe.ReadUnaligned<ushort>(p),
            4 => Unsafe.ReadUnaligned<uint>(p),
            _ => Unsafe.ReadUnaligned<ulong>(p),
        };
        if (lockedAccess)
        {
            NoteLockedRead(linear, size, read);
        }

        return read;
    }

    private void WriteLinearSlow(ulong linear, int size, ulong value)
    {
        CheckAlignment(linear, size);
        if ((linear & 0xFFF) > (ulong)(4096 - size))
        {
            Translate(linear, Access.Write);
            Translate((linear | 0xFFF) + 1, Access.Write);
            for (int i = 0; i < size; i++)
            {
                WriteLinearSlow(linear + (ulong)i, 1, value >> (8 * i));
            }

            return;
        }

        ulong gpa = Translate(linear, Access.Write);
        byte* p = FillTlb(linear, Access.Write, gpa);
        if (p == null)
        {
            var (frame, isPrivate) = SplitGpa(gpa);
            mmioWritten ??= new CpuExit.MmioWrite(frame | (gpa & 0xFFF), size, value, isPrivate, linear);
            return;
        }

        if (lockedAccess && TryLockedWrite(p, linear, size, value))
        {
            return;
        }

        switch (size)
        {
            case 1: *p = (byte)value; break;
            case 2: Unsafe.WriteUnaligned(p, (ushort)value); break;
            case 4: Unsafe.WriteUnaligned(p, (uint)value); break;
            default: Unsafe.WriteUnaligned(p, value); break;
        }
    }

    /// <summary>#AC(0) for a misaligned user-mode data access while alignment checking is armed (see UpdateMode).</summary>
    private void CheckAlignment(ulong linear, int size)
    {
        if (alignmentChecks && !implicitSupervisor && (linear & (ulong)(size - 1)) != 0)
        {
            throw new GuestFault(Vector.AlignmentCheck, 0);
        }
    }

    private ulong MmioRead(ulong gpa, int size, ulong linear)
    {
        var (frame, isPrivate) = SplitGpa(gpa);
        ulong address = frame | (gpa & 0xFFF);
        if (mmioAnswered is { } answered && answered.Gpa == address && answered.Size == size)
        {
            mmioAnswered = null;
            return mmioAnswer;
        }

        throw new MmioReadPending(address, size, isPrivate, linear);
    }

    /// <summary>Answers the <see cref="CpuExit.MmioRead"/> just returned; the instruction runs again and reads it.</summary>
    public void CompleteMmioRead(ulong value)
    {
        if (lastExit is not CpuExit.MmioRead read)
        {
            throw new InvalidOperationException("the last exit was not an MMIO read");
        }

        mmioAnswered = read;
        mmioAnswer = value;
    }
}
